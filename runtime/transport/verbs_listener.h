// VerbsListener: the memnode side of rdma://HOST:PORT. A TCP listening
// socket for the bootstrap connections (verbs_connection.h); the memnode's
// accept loop polls fd() and calls AcceptBootstrap, which only accepts; the
// queue pair is set up by Establish on the connection's own thread, so a
// client that connects and never speaks holds up nobody but itself.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "runtime/base/status.h"
#include "runtime/transport/verbs_channel.h"

namespace respct {

class VerbsListener {
 public:
  // Bound on a client's half of the set-up: a silent client's connection
  // thread gives up after this long.
  static constexpr int kSetupTimeoutMs = 5000;

  // Binds and listens; fails with one line when there is no RDMA device.
  static Result<std::unique_ptr<VerbsListener>> Listen(const std::string& host, uint16_t port);
  ~VerbsListener();
  VerbsListener(const VerbsListener&) = delete;
  VerbsListener& operator=(const VerbsListener&) = delete;

  int fd() const { return fd_; }
  // The bootstrap port bound (the kernel's choice when 0 was asked for).
  uint16_t port() const { return port_; }
  // Accepts one bootstrap connection without waiting: its descriptor, or -1
  // when nothing was pending. An error concerns that client only.
  Result<int> AcceptBootstrap();
  // Sets up the queue pair of an accepted bootstrap connection (takes `fd`,
  // whatever the outcome), waiting at most kSetupTimeoutMs for the client.
  static Result<std::unique_ptr<VerbsChannel>> Establish(int fd);

 private:
  VerbsListener() = default;
  int fd_ = -1;
  uint16_t port_ = 0;
};

}  // namespace respct
