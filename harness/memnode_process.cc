#include "harness/memnode_process.h"

#include <fcntl.h>
#include <infiniband/verbs.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "runtime/transport/transport.h"

namespace respct::test {
namespace {

std::string MakeTempDir() {
  // The guest tier's DAX mount, when there is one: the pool is real PMem there.
  const char* base = std::getenv("RESPCT_TEST_TMPDIR");
  if (base == nullptr) base = std::getenv("RESPCT_GUEST_PMEM_DIR");
  std::string root = base != nullptr ? base : (access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
  std::string templ = root + "/respct-proto-XXXXXX";
  if (mkdtemp(templ.data()) == nullptr) return {};
  return templ;
}

}  // namespace

uint16_t FreeLoopbackPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  uint16_t port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
    port = ntohs(a.sin_port);
  close(fd);
  return port;
}

bool HaveRdmaDevice() {
  int n = 0;
  ibv_device** list = ibv_get_device_list(&n);
  if (list != nullptr) ibv_free_device_list(list);
  return n > 0;
}

MemnodeProcess::MemnodeProcess(Options options)
    : options_(std::move(options)), dir_(MakeTempDir()) {
  uint8_t bytes[wire::kNonceSize];  // 32 random bytes, the size memnode itself generates
  if (!options_.secret_file.empty()) {
    const int in = open(options_.secret_file.c_str(), O_RDONLY | O_CLOEXEC);
    const bool read_all = in >= 0 && read(in, bytes, sizeof bytes) == static_cast<ssize_t>(sizeof bytes);
    if (in >= 0) close(in);
    if (!read_all) {
      std::fprintf(stderr, "MemnodeProcess: cannot read %zu bytes of secret from %s\n", sizeof bytes,
                   options_.secret_file.c_str());
      std::abort();
    }
  } else if (const Status s = Secret::RandomNonce(bytes); !s.ok()) {
    std::fprintf(stderr, "MemnodeProcess: %s\n", s.ToString().c_str());
    std::abort();
  }
  const int fd = open(secret_path().c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd >= 0) {
    (void)!write(fd, bytes, sizeof bytes);
    close(fd);
  }
  secret_ = Secret::FromBytes(std::string_view(reinterpret_cast<const char*>(bytes), sizeof bytes));
}

MemnodeProcess::~MemnodeProcess() {
  Kill();
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

Status MemnodeProcess::Start() {
  if (dir_.empty()) return Status::IOError("could not create a temporary directory");
  const std::string ready = dir_ + "/ready";
  unlink(ready.c_str());
  std::vector<std::string> args = {options_.binary,     "--pool",        pool_path(),
                                   "--size",            options_.pool_size, "--ring-size",
                                   options_.ring_size,  "--listen",      tcp_url(),
                                   "--listen",          shm_url(),       "--secret-file",
                                   secret_path(),       "--ready-file",  ready,
                                   "--log-level",       options_.log_level};
  if (HaveRdmaDevice()) {
    args.push_back("--listen");
    args.push_back(rdma_url());
  }
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const std::string log = dir_ + "/memnode.log";
  const pid_t parent = getpid();
  pid_ = fork();
  if (pid_ < 0) return Status::FromErrno("fork", errno);
  if (pid_ == 0) {
    // Only async-signal-safe calls until exec. The memnode dies with the test,
    // even when the test itself is killed or aborts.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    if (options_.max_open_files != 0) {
      const rlimit r{options_.max_open_files, options_.max_open_files};
      if (setrlimit(RLIMIT_NOFILE, &r) != 0) _exit(126);
    }
    const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    execv(argv[0], argv.data());
    _exit(127);
  }
  // Bounded wait: a memnode that is not listening after 20 s is broken, not slow.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    if (auto r = memnode::ReadyFile::Read(ready); r.ok()) return LearnPorts(*r);
    if (!Alive()) return Status::Unavailable("respct-memnode exited during start-up: " + LogTail());
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  Kill();
  return Status::Unavailable("respct-memnode did not become ready within 20 s: " + LogTail());
}

Status MemnodeProcess::LearnPorts(const memnode::ReadyFile& ready) {
  // The first start asked for port 0; restarts ask for the ports it got, so
  // clients that hold the URLs reconnect to the same place.
  auto tcp = ParseEndpoint(ready.UrlOf("tcp"));
  if (!tcp.ok()) return tcp.status().Annotate("respct-memnode's ready file");
  port_ = tcp->port;
  if (HaveRdmaDevice()) {
    auto rdma = ParseEndpoint(ready.UrlOf("rdma"));
    if (!rdma.ok()) return rdma.status().Annotate("respct-memnode's ready file");
    rdma_port_ = rdma->port;
  }
  return Status::OK();
}

bool MemnodeProcess::Alive() {
  if (pid_ < 0) return false;
  int status;
  if (waitpid(pid_, &status, WNOHANG) == pid_) {
    pid_ = -1;
    return false;
  }
  return true;
}

void MemnodeProcess::SendKill() {
  if (pid_ >= 0) kill(pid_, SIGKILL);
}

void MemnodeProcess::Kill() {
  if (pid_ < 0) return;
  kill(pid_, SIGKILL);
  int status;
  while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
}

std::string MemnodeProcess::LogTail() const {
  std::ifstream in(dir_ + "/memnode.log");
  std::vector<std::string> lines;
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  std::ostringstream out;
  for (size_t i = lines.size() > 5 ? lines.size() - 5 : 0; i < lines.size(); ++i) out << lines[i] << " | ";
  return out.str();
}

}  // namespace respct::test
