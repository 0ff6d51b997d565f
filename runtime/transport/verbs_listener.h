// VerbsListener: the memnode side of rdma://HOST:PORT. A TCP listening
// socket for the bootstrap connections (verbs_connection.h); the memnode's
// accept loop polls fd() and calls Accept, which sets up the queue pair of
// one client and returns its VerbsChannel for a Session thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "runtime/base/status.h"
#include "runtime/transport/verbs_channel.h"

namespace respct {

class VerbsListener {
 public:
  // Bound on a client's half of the set-up, so a silent client cannot hold
  // the accept loop for long.
  static constexpr int kSetupTimeoutMs = 5000;

  // Binds and listens; fails with one line when there is no RDMA device.
  static Result<std::unique_ptr<VerbsListener>> Listen(const std::string& host, uint16_t port);
  ~VerbsListener();
  VerbsListener(const VerbsListener&) = delete;
  VerbsListener& operator=(const VerbsListener&) = delete;

  int fd() const { return fd_; }
  // The bootstrap port bound (the kernel's choice when 0 was asked for).
  uint16_t port() const { return port_; }
  // Accepts one bootstrap connection and sets its queue pair up. nullptr
  // when nothing was pending; an error concerns that client only.
  Result<std::unique_ptr<VerbsChannel>> Accept();

 private:
  VerbsListener() = default;
  int fd_ = -1;
  uint16_t port_ = 0;
};

}  // namespace respct
