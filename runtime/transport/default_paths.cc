#include "runtime/transport/default_paths.h"

#include <pwd.h>
#include <unistd.h>

#include <cstdlib>

namespace respct {
namespace {

std::string HomeDir() {
  if (const char* h = std::getenv("HOME"); h != nullptr && *h != '\0') return h;
  if (const passwd* pw = getpwuid(getuid()); pw != nullptr && pw->pw_dir != nullptr) return pw->pw_dir;
  return "/tmp";
}

}  // namespace

std::string DefaultStateDir() {
  if (const char* d = std::getenv("RESPCT_STATE_DIR"); d != nullptr && *d != '\0') return d;
  if (const char* x = std::getenv("XDG_STATE_HOME"); x != nullptr && *x == '/') return std::string(x) + "/respct";
  return HomeDir() + "/.local/state/respct";
}

std::string DefaultPoolPath() { return DefaultStateDir() + "/pool"; }

std::string DefaultSecretPath() {
  if (const char* f = std::getenv("RESPCT_SECRET_FILE"); f != nullptr && *f != '\0') return f;
  return DefaultStateDir() + "/secret";
}

std::string DefaultMemnodeUrl() { return "shm://" + DefaultStateDir() + "/memnode.sock"; }

std::string DefaultAppName(const std::string& program) {
  const size_t slash = program.rfind('/');
  return slash == std::string::npos ? program : program.substr(slash + 1);
}

}  // namespace respct
