// ListenTcp: the one place a TCP listening socket is opened, for the
// memnode's tcp:// listener and the rdma:// bootstrap listener alike.
//
// Port 0 asks the kernel for a free port; the bound port is returned either
// way, so a caller can announce the address it really listens on (the
// memnode writes it into its ready file). Letting the kernel choose, instead
// of probing for a free port and binding it later, is what makes parallel
// tests that each start a memnode race-free.
#pragma once

#include <cstdint>
#include <string>

#include "runtime/base/status.h"

namespace respct {

struct TcpListenSocket {
  int fd = -1;
  uint16_t port = 0;  // the port bound, also when 0 was asked for
};

// Resolves `host` ("*" = every address), binds the first address that works
// with SO_REUSEADDR (a restarted memnode rebinds at once while old
// connections sit in TIME_WAIT) and listens. `socket_flags` is or-ed into the
// socket type (SOCK_CLOEXEC is always set). Errors name the failing step.
Result<TcpListenSocket> ListenTcp(const std::string& host, uint16_t port, int socket_flags = 0);

// Options every accepted memnode connection gets: TCP_NODELAY (frames are
// small and latency-bound), and keepalive. A client host that vanishes
// without a FIN would otherwise keep its session, and with it the app's
// single writer slot, forever: keepalive ends such a session after about a
// minute of silence from the peer.
void TuneAcceptedTcp(int fd);

}  // namespace respct
