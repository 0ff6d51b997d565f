#include "memnode/server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include <spdlog/spdlog.h>

#include "runtime/base/make_dirs.h"
#include "runtime/transport/frame_socket.h"
#include "runtime/transport/transport.h"

namespace respct::memnode {
namespace {

// Replies to one client stay bounded: a peer that stops reading gets its
// connection dropped instead of pinning an app's mutex forever.
constexpr int kSendTimeoutSec = 30;
constexpr int kListenBacklog = 128;
constexpr int kKeepIdleSec = 30;
constexpr int kKeepIntervalSec = 10;
constexpr int kKeepCount = 3;

std::string PeerName(const sockaddr_storage& ss, bool unix_socket) {
  if (unix_socket) return "unix peer";
  char host[NI_MAXHOST];
  char port[NI_MAXSERV];
  if (getnameinfo(reinterpret_cast<const sockaddr*>(&ss), sizeof ss, host, sizeof host, port, sizeof port,
                  NI_NUMERICHOST | NI_NUMERICSERV) != 0)
    return "tcp peer";
  return std::string(host) + ":" + port;
}

}  // namespace

Server::Server(Pool* pool, Secret secret, ServerOptions opts)
    : pool_(pool), secret_(std::move(secret)), opts_(std::move(opts)) {}

Server::~Server() {
  Shutdown();
  if (signal_fd_ >= 0) close(signal_fd_);
}

Status Server::Start() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  // Blocked before any session thread exists, so every thread inherits the
  // mask and only the signalfd ever sees these signals.
  if (pthread_sigmask(SIG_BLOCK, &set, nullptr) != 0) return Status::IOError("pthread_sigmask failed");
  signal_fd_ = signalfd(-1, &set, SFD_CLOEXEC);
  if (signal_fd_ < 0) return Status::FromErrno("signalfd", errno);
  signal(SIGPIPE, SIG_IGN);
  for (const std::string& url : opts_.listen_urls) RESPCT_RETURN_IF_ERROR(Listen(url));
  return WriteReadyFile();
}

Status Server::Listen(const std::string& url) {
  auto ep = ParseEndpoint(url);
  if (!ep.ok()) return ep.status();
  switch (ep->kind) {
    case Endpoint::Kind::kTcp: return ListenTcp(url, ep->host, ep->port);
    case Endpoint::Kind::kShm: return ListenUnix(url, ep->path);
    case Endpoint::Kind::kRdma: return ListenRdma(url, ep->host, ep->port);
  }
  return Status::InvalidArgument("listen URL '" + url + "': unknown scheme");
}

Status Server::ListenRdma(const std::string& url, const std::string& host, uint16_t port) {
  auto l = VerbsListener::Listen(host, port);
  if (!l.ok()) return l.status().Annotate("listen " + url);
  rdma_listeners_.push_back(RdmaListener{std::move(*l), url});
  spdlog::info("listening on {}", url);
  return Status::OK();
}

Status Server::ListenTcp(const std::string& url, const std::string& host, uint16_t port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  const int gai = getaddrinfo(host == "*" ? nullptr : host.c_str(), std::to_string(port).c_str(), &hints, &res);
  if (gai != 0) return Status::InvalidArgument("listen " + url + ": " + gai_strerror(gai));
  Status last = Status::InvalidArgument("listen " + url + ": no address");
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    const int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      last = Status::FromErrno("listen " + url + ": socket", errno);
      continue;
    }
    // A restarted memnode must rebind at once, with old connections in TIME_WAIT.
    const int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, kListenBacklog) != 0) {
      last = Status::FromErrno("listen " + url, errno);
      close(fd);
      continue;
    }
    freeaddrinfo(res);
    listeners_.push_back(Listener{fd, false, url, ""});
    spdlog::info("listening on {}", url);
    return Status::OK();
  }
  freeaddrinfo(res);
  return last;
}

Status Server::ListenUnix(const std::string& url, const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path)
    return Status::InvalidArgument("listen " + url + ": socket path longer than " +
                                   std::to_string(sizeof addr.sun_path - 1) + " bytes");
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  RESPCT_RETURN_IF_ERROR(MakeParentDirs(path));
  struct stat st;
  if (lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) return Status::FailedPrecondition("listen " + url + ": " + path + " exists and is not a socket");
    // Only a socket nobody answers on is stale; a live one belongs to another memnode.
    auto probe = FrameSocket::ConnectUnix(path, 1000);
    if (probe.ok()) return Status::FailedPrecondition("listen " + url + ": another process is serving " + path);
    spdlog::info("removing stale socket {}", path);
    unlink(path.c_str());
  }
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::FromErrno("listen " + url + ": socket", errno);
  if (bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0 || listen(fd, kListenBacklog) != 0) {
    const int err = errno;
    close(fd);
    return Status::FromErrno("listen " + url, err);
  }
  chmod(path.c_str(), 0600);
  listeners_.push_back(Listener{fd, true, url, path});
  spdlog::info("listening on {}", url);
  return Status::OK();
}

Status Server::WriteReadyFile() {
  if (opts_.ready_file.empty()) return Status::OK();
  // Written aside and renamed: a watcher never reads a half-written pid.
  const std::string tmp = opts_.ready_file + ".tmp";
  const int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::FromErrno("ready file " + tmp, errno);
  const std::string pid = std::to_string(getpid()) + "\n";
  const bool ok = write(fd, pid.data(), pid.size()) == static_cast<ssize_t>(pid.size());
  close(fd);
  if (!ok || rename(tmp.c_str(), opts_.ready_file.c_str()) != 0)
    return Status::FromErrno("ready file " + opts_.ready_file, ok ? errno : EIO);
  ready_written_ = true;
  return Status::OK();
}

void Server::Accept(const Listener& l) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  const int fd = accept4(l.fd, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_CLOEXEC);
  if (fd < 0) {
    if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
      spdlog::warn("accept on {}: {}", l.url, std::strerror(errno));
      // Out of descriptors: back off instead of spinning on a ready listener.
      poll(nullptr, 0, 100);
    }
    return;
  }
  if (conns_.size() >= opts_.max_connections) {
    spdlog::warn("refusing a connection on {}: {} connections open", l.url, conns_.size());
    close(fd);
    return;
  }
  if (!l.unix_socket) {
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    // A client host that vanishes without a FIN would otherwise keep its
    // session, and with it the app's single writer slot, forever: keepalive
    // ends such a session after about a minute of silence from the peer.
    const int idle = kKeepIdleSec, interval = kKeepIntervalSec, count = kKeepCount;
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof interval);
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof count);
  }
  const timeval tv{kSendTimeoutSec, 0};
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  const std::string peer = PeerName(ss, l.unix_socket);
  spdlog::debug("connection from {} on {}", peer, l.url);
  StartSession(std::make_unique<FrameSocket>(fd), peer, l.unix_socket);
}

void Server::AcceptRdma(const RdmaListener& l) {
  auto ch = l.listener->Accept();
  if (!ch.ok()) {
    spdlog::warn("{}: {}", l.url, ch.status().message());
    return;
  }
  if (*ch == nullptr) return;  // nothing was pending
  if (conns_.size() >= opts_.max_connections) {
    spdlog::warn("refusing a connection on {}: {} connections open", l.url, conns_.size());
    return;
  }
  spdlog::debug("rdma connection on {}", l.url);
  StartSession(std::move(*ch), "rdma peer", false);
}

void Server::StartSession(std::unique_ptr<FrameChannel> chan, const std::string& peer, bool unix_socket) {
  auto conn = std::make_unique<Connection>();
  conn->chan = std::move(chan);
  Connection* c = conn.get();
  conn->thread = std::thread([this, c, peer, unix_socket] {
    Session(c->chan.get(), pool_, &secret_, opts_.session, unix_socket, peer).Run();
    c->done.store(true, std::memory_order_release);
  });
  conns_.push_back(std::move(conn));
}

void Server::ReapFinished() {
  for (auto it = conns_.begin(); it != conns_.end();) {
    if ((*it)->done.load(std::memory_order_acquire)) {
      (*it)->thread.join();
      it = conns_.erase(it);  // closes the descriptor
    } else {
      ++it;
    }
  }
}

Status Server::Run() {
  spdlog::info("respct-memnode ready (pid {}, {} app(s))", getpid(), pool_->ListApps().size());
  std::vector<pollfd> fds;
  for (const Listener& l : listeners_) fds.push_back(pollfd{l.fd, POLLIN, 0});
  for (const RdmaListener& l : rdma_listeners_) fds.push_back(pollfd{l.listener->fd(), POLLIN, 0});
  fds.push_back(pollfd{signal_fd_, POLLIN, 0});
  while (true) {
    const int rc = poll(fds.data(), fds.size(), 1000);
    if (rc < 0 && errno != EINTR) return Status::FromErrno("poll", errno);
    ReapFinished();
    if (rc <= 0) continue;
    if (fds.back().revents & POLLIN) {
      signalfd_siginfo si{};
      (void)!read(signal_fd_, &si, sizeof si);
      spdlog::info("received {}, shutting down", strsignal(static_cast<int>(si.ssi_signo)));
      break;
    }
    for (size_t i = 0; i < listeners_.size(); ++i)
      if (fds[i].revents & POLLIN) Accept(listeners_[i]);
    for (size_t i = 0; i < rdma_listeners_.size(); ++i)
      if (fds[listeners_.size() + i].revents & POLLIN) AcceptRdma(rdma_listeners_[i]);
  }
  Shutdown();
  spdlog::info("respct-memnode stopped");
  return Status::OK();
}

void Server::Shutdown() {
  for (Listener& l : listeners_) {
    close(l.fd);
    if (!l.path.empty()) unlink(l.path.c_str());
  }
  listeners_.clear();
  // Wakes every session blocked on its channel; each then ends on its own.
  for (auto& c : conns_) c->chan->Shutdown();
  for (auto& c : conns_) c->thread.join();
  conns_.clear();
  rdma_listeners_.clear();
  if (ready_written_) unlink(opts_.ready_file.c_str());
  ready_written_ = false;
}

}  // namespace respct::memnode
