#include "memnode/server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include <spdlog/spdlog.h>

#include "memnode/ready_file.h"
#include "runtime/base/make_dirs.h"
#include "runtime/transport/frame_socket.h"
#include "runtime/transport/tcp_listen.h"
#include "runtime/transport/transport.h"

namespace respct::memnode {
namespace {

// Replies to one client stay bounded: a peer that stops reading gets its
// connection dropped instead of pinning an app's mutex forever.
constexpr int kSendTimeoutSec = 30;
constexpr int kListenBacklog = 128;

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
  auto ep = ParseEndpoint(url, EndpointRole::kListen);
  if (!ep.ok()) return ep.status();
  switch (ep->kind) {
    case Endpoint::Kind::kTcp: return ListenTcp(*ep);
    case Endpoint::Kind::kShm: return ListenUnix(url, ep->path);
    case Endpoint::Kind::kRdma: return ListenRdma(*ep);
  }
  return Status::InvalidArgument("listen URL '" + url + "': unknown scheme");
}

Status Server::ListenRdma(Endpoint ep) {
  auto l = VerbsListener::Listen(ep.host, ep.port);
  if (!l.ok()) return l.status().Annotate("listen " + ep.ToString());
  ep.port = (*l)->port();
  rdma_listeners_.push_back(RdmaListener{std::move(*l), ep.ToString()});
  spdlog::info("listening on {}", ep.ToString());
  return Status::OK();
}

Status Server::ListenTcp(Endpoint ep) {
  auto sock = respct::ListenTcp(ep.host, ep.port);
  if (!sock.ok()) return sock.status().Annotate("listen " + ep.ToString());
  ep.port = sock->port;
  listeners_.push_back(Listener{sock->fd, false, ep.ToString(), ""});
  spdlog::info("listening on {}", ep.ToString());
  return Status::OK();
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
  ReadyFile ready;
  ready.pid = getpid();
  for (const Listener& l : listeners_) ready.urls.push_back(l.url);
  for (const RdmaListener& l : rdma_listeners_) ready.urls.push_back(l.url);
  RESPCT_RETURN_IF_ERROR(ready.Write(opts_.ready_file));
  ready_written_ = true;
  return Status::OK();
}

void Server::Accept(const Listener& l) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  const int fd = accept4(l.fd, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_CLOEXEC);
  if (fd < 0) {
    if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) PauseAccepting(l.url, errno);
    return;
  }
  if (accept_failing_) {
    spdlog::warn("accepting connections again ({} open)", conns_.size() + 1);
    accept_failing_ = false;
  }
  if (conns_.size() >= opts_.max_connections) {
    spdlog::warn("refusing a connection on {}: {} connections open", l.url, conns_.size());
    close(fd);
    return;
  }
  if (!l.unix_socket) TuneAcceptedTcp(fd);
  const timeval tv{kSendTimeoutSec, 0};
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  const std::string peer = PeerName(ss, l.unix_socket);
  spdlog::debug("connection from {} on {}", peer, l.url);
  StartSession(std::make_unique<FrameSocket>(fd), peer, l.unix_socket);
}

void Server::PauseAccepting(const std::string& url, int err) {
  accept_retry_at_ = std::chrono::steady_clock::now() + std::chrono::milliseconds(kAcceptRetryMs);
  if (accept_failing_) return;
  accept_failing_ = true;
  if (err == EMFILE || err == ENFILE) {
    rlimit r{};
    getrlimit(RLIMIT_NOFILE, &r);
    spdlog::error("accept on {}: {} ({} connections open, descriptor limit {}): new connections wait in the "
                  "listen backlog until a connection ends; the open ones are served as before",
                  url, std::strerror(err), conns_.size(),
                  r.rlim_cur == RLIM_INFINITY ? std::string("unlimited") : std::to_string(r.rlim_cur));
  } else {
    spdlog::error("accept on {}: {}; retrying every {} ms, the open connections are served as before", url,
                  std::strerror(err), kAcceptRetryMs);
  }
}

bool Server::AcceptPaused() const {
  return accept_failing_ && std::chrono::steady_clock::now() < accept_retry_at_;
}

void Server::AcceptRdma(const RdmaListener& l) {
  auto fd = l.listener->AcceptBootstrap();
  if (!fd.ok()) {
    spdlog::warn("{}: {}", l.url, fd.status().message());
    return;
  }
  if (*fd < 0) return;  // nothing was pending
  if (conns_.size() >= opts_.max_connections) {
    spdlog::warn("refusing a connection on {}: {} connections open", l.url, conns_.size());
    close(*fd);
    return;
  }
  spdlog::debug("rdma connection on {}", l.url);
  StartRdmaSession(*fd, l.url);
}

Server::Connection::~Connection() {
  if (waker >= 0) close(waker);
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

void Server::StartRdmaSession(int fd, const std::string& url) {
  auto conn = std::make_unique<Connection>();
  conn->waker = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  Connection* c = conn.get();
  conn->thread = std::thread([this, c, fd, url] {
    auto ch = VerbsListener::Establish(fd);
    FrameChannel* chan = nullptr;
    {
      std::lock_guard<std::mutex> lock(c->mu);
      if (ch.ok() && !c->stopping) {
        c->chan = std::move(*ch);
        chan = c->chan.get();
      }
    }
    if (!ch.ok()) spdlog::warn("{}: {}", url, ch.status().message());
    if (chan != nullptr) Session(chan, pool_, &secret_, opts_.session, false, "rdma peer").Run();
    c->done.store(true, std::memory_order_release);
  });
  conns_.push_back(std::move(conn));
}

bool Server::ReapFinished() {
  bool any = false;
  for (auto it = conns_.begin(); it != conns_.end();) {
    if ((*it)->done.load(std::memory_order_acquire)) {
      (*it)->thread.join();
      it = conns_.erase(it);  // closes the descriptor
      any = true;
    } else {
      ++it;
    }
  }
  return any;
}

Status Server::Run() {
  spdlog::info("respct-memnode ready (pid {}, {} app(s))", getpid(), pool_->ListApps().size());
  std::vector<pollfd> fds;
  for (const Listener& l : listeners_) fds.push_back(pollfd{l.fd, POLLIN, 0});
  for (const RdmaListener& l : rdma_listeners_) fds.push_back(pollfd{l.listener->fd(), POLLIN, 0});
  fds.push_back(pollfd{signal_fd_, POLLIN, 0});
  while (true) {
    // Listeners are polled unless accepting is paused (PauseAccepting); the
    // signalfd always is.
    const bool paused = AcceptPaused();
    for (size_t i = 0; i + 1 < fds.size(); ++i) fds[i].events = paused ? 0 : POLLIN;
    const int rc = poll(fds.data(), fds.size(), paused ? 100 : 1000);
    if (rc < 0 && errno != EINTR) return Status::FromErrno("poll", errno);
    // A connection that ended freed a descriptor: try accepting at once.
    if (ReapFinished() && accept_failing_) accept_retry_at_ = {};
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
  // Wakes every session blocked on its channel, and every rdma:// set-up
  // still waiting for its client; each then ends on its own.
  for (auto& c : conns_) {
    std::lock_guard<std::mutex> lock(c->mu);
    c->stopping = true;
    if (c->chan != nullptr) {
      c->chan->Shutdown();
    } else if (c->waker >= 0) {
      ::shutdown(c->waker, SHUT_RDWR);
    }
  }
  for (auto& c : conns_) c->thread.join();
  conns_.clear();
  rdma_listeners_.clear();
  if (ready_written_) unlink(opts_.ready_file.c_str());
  ready_written_ = false;
}

}  // namespace respct::memnode
