// Server: respct-memnode's listeners, connection threads and shutdown.
//
// Threading model: one thread per connection, plus the main thread running an
// accept loop over poll(). A memnode has few, long-lived clients (one writer
// per app, the odd reader or admin), so threads cost little, and blocking I/O
// keeps each session's state machine a straight line of code. Sessions of one
// app are serialised by that app's mutex (commits, applies, image reads);
// sessions of different apps never contend.
//
// SIGTERM/SIGINT are blocked in every thread and read from a signalfd by the
// accept loop: it stops accepting, shuts every connection down, joins the
// threads and returns. Nothing needs flushing then: each acknowledged commit
// was already durable, which is also why kill -9 at any instant is safe.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "memnode/pool.h"
#include "memnode/session.h"
#include "runtime/base/status.h"
#include "runtime/transport/frame_channel.h"
#include "runtime/transport/secret.h"
#include "runtime/transport/transport.h"
#include "runtime/transport/verbs_listener.h"

namespace respct::memnode {

struct ServerOptions {
  std::vector<std::string> listen_urls;  // tcp://HOST:PORT, shm:///path, rdma://HOST:PORT
  std::string ready_file;                // our pid and the bound URLs, once listening
  SessionOptions session;
  size_t max_connections = 1024;
};

class Server {
 public:
  Server(Pool* pool, Secret secret, ServerOptions opts);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Blocks SIGTERM/SIGINT (call before any other thread exists), opens every
  // listener and writes the ready file.
  Status Start();
  // Accepts and serves until SIGTERM/SIGINT, then shuts down gracefully.
  Status Run();

 private:
  struct Listener {
    int fd = -1;
    bool unix_socket = false;
    std::string url;
    std::string path;  // unix socket file we created, removed at exit
  };
  struct RdmaListener {
    std::unique_ptr<VerbsListener> listener;
    std::string url;
  };
  // One client. An rdma:// connection starts without a channel: its thread
  // sets the queue pair up first (VerbsListener::Establish), and until then
  // `waker`, a duplicate of its bootstrap socket, is how Shutdown wakes it
  // (a duplicate, because the set-up closes the original when it fails).
  struct Connection {
    std::mutex mu;                       // chan (once the thread sets it) and stopping
    std::unique_ptr<FrameChannel> chan;
    bool stopping = false;
    int waker = -1;
    std::thread thread;
    std::atomic<bool> done{false};
    ~Connection();
  };

  Status Listen(const std::string& url);
  // A port of 0 is the kernel's choice; the listener keeps the URL as bound.
  Status ListenTcp(Endpoint ep);
  Status ListenUnix(const std::string& url, const std::string& path);
  Status ListenRdma(Endpoint ep);
  Status WriteReadyFile();
  void Accept(const Listener& l);
  void AcceptRdma(const RdmaListener& l);
  void StartSession(std::unique_ptr<FrameChannel> chan, const std::string& peer, bool unix_socket);
  // Sets the rdma:// connection of bootstrap socket `fd` up, then serves it,
  // on a thread of its own.
  void StartRdmaSession(int fd, const std::string& url);
  // Joins the threads of finished connections; true if there were any.
  bool ReapFinished();
  void Shutdown();
  // When accept fails for want of a resource (descriptors, above all): the
  // listeners stay readable, so polling them again at once would spin, and
  // logging each failure would flood the log. They are left out of the poll
  // set until a connection ends (freeing its descriptor) or kAcceptRetryMs
  // passes; the failure is logged once per episode, and its end once.
  void PauseAccepting(const std::string& url, int err);
  bool AcceptPaused() const;

  Pool* pool_;
  Secret secret_;
  ServerOptions opts_;
  int signal_fd_ = -1;
  bool ready_written_ = false;
  std::vector<Listener> listeners_;
  std::vector<RdmaListener> rdma_listeners_;
  std::list<std::unique_ptr<Connection>> conns_;  // touched by the accept thread only
  // Accept thread only: see PauseAccepting.
  static constexpr int kAcceptRetryMs = 1000;
  bool accept_failing_ = false;
  std::chrono::steady_clock::time_point accept_retry_at_{};
};

}  // namespace respct::memnode
