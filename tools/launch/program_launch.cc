#include "tools/launch/program_launch.h"

#include <sys/personality.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "tools/launch/embedded_memnode.h"

namespace respct::launch {

std::string DefaultLibraryPath() {
  if (const char* l = std::getenv("RESPCT_LIBRARY"); l != nullptr && *l != '\0') return l;
  // Installed (cmake/Install.cmake: PREFIX/lib/respct/), else the build tree's (build/lib/).
  const std::string installed = SelfDirectory() + "/../" RESPCT_INSTALLED_LIBRARY;
  if (access(installed.c_str(), R_OK) == 0) return installed;
  return SelfDirectory() + "/../lib/librespct.so";
}

Status ExecProgram(const ProgramLaunch& launch) {
  if (launch.argv.empty()) return Status::InvalidArgument("no program to run (put it after --)");
  if (access(launch.library.c_str(), R_OK) != 0)
    return Status::FromErrno("librespct.so at " + launch.library + " (set RESPCT_LIBRARY)", errno);
  const int persona = personality(0xffffffff);
  if (persona == -1 || personality(static_cast<unsigned long>(persona) | ADDR_NO_RANDOMIZE) == -1)
    return Status::FromErrno("personality(ADDR_NO_RANDOMIZE)", errno);
  std::string preload = launch.library;
  if (const char* existing = std::getenv("LD_PRELOAD"); existing != nullptr && *existing != '\0')
    preload += std::string(":") + existing;
  setenv("LD_PRELOAD", preload.c_str(), 1);
  for (const auto& [name, value] : launch.env) setenv(name.c_str(), value.c_str(), 1);
  std::vector<char*> argv;
  for (const std::string& a : launch.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  execvp(argv[0], argv.data());
  return Status::FromErrno("exec " + launch.argv[0], errno);
}

}  // namespace respct::launch
