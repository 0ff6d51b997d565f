#include "tools/launch/embedded_memnode.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <climits>
#include <cstring>
#include <thread>
#include <vector>

#include "runtime/base/make_dirs.h"
#include "runtime/transport/default_paths.h"
#include "runtime/transport/transport.h"

namespace respct::launch {
namespace {

// The default pool is a sparse file: its size bounds what all apps together
// may persist, not what it occupies on disk.
constexpr const char* kDefaultPoolSize = "64G";

bool SocketAnswers(const std::string& path) {
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  const bool ok = connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
  close(fd);
  return ok;
}

}  // namespace

std::string SelfDirectory() {
  char buf[PATH_MAX];
  const ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return ".";
  std::string path(buf, static_cast<size_t>(n));
  return path.substr(0, path.rfind('/'));
}

Result<EmbeddedMemnode> EnsureEmbeddedMemnode(const std::string& memnode_binary) {
  EmbeddedMemnode m;
  m.url = DefaultMemnodeUrl();
  m.secret_file = DefaultSecretPath();
  const std::string state = DefaultStateDir();
  m.log_file = state + "/memnode.log";
  auto ep = ParseEndpoint(m.url);
  if (!ep.ok()) return ep.status();
  if (SocketAnswers(ep->path)) return m;

  RESPCT_RETURN_IF_ERROR(MakeDirs(state));
  if (access(memnode_binary.c_str(), X_OK) != 0)
    return Status::NotFound("respct-memnode not found at " + memnode_binary + " (needed for the embedded memnode)");
  const std::string ready = state + "/memnode.ready";
  unlink(ready.c_str());
  std::vector<std::string> args = {memnode_binary, "--pool", DefaultPoolPath(), "--size", kDefaultPoolSize,
                                   "--listen", m.url, "--secret-file", m.secret_file, "--ready-file", ready};
  const pid_t pid = fork();
  if (pid < 0) return Status::FromErrno("fork", errno);
  if (pid == 0) {
    // A daemon of its own: new session, no terminal, output to its log, and
    // no respct shim or settings inherited from whoever started it.
    setsid();
    const int log = open(m.log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    const int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (null >= 0) dup2(null, 0);
    if (log >= 0) {
      dup2(log, 1);
      dup2(log, 2);
    }
    unsetenv("LD_PRELOAD");
    if (fork() != 0) _exit(0);  // the grandchild is reparented: no zombie for our caller
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (std::chrono::steady_clock::now() < deadline) {
    if (access(ready.c_str(), F_OK) == 0 && SocketAnswers(ep->path)) {
      m.started_now = true;
      return m;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return Status::Unavailable("the embedded respct-memnode did not come up within 15 s; see " + m.log_file);
}

}  // namespace respct::launch
