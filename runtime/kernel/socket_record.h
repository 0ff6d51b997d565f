// What inet and unix sockets record in common (inet_socket.h, unix_socket.h):
// how the socket was made, the options the program set on it, where it is
// bound and what it was connected to. Shared recording for the interposed
// socket calls; each kind recreates its own.
#pragma once

#include <sys/socket.h>

#include <cstdint>

#include "runtime/base/status.h"
#include "runtime/kernel/fd_table.h"

namespace respct::kernel {

enum SocketState : uint32_t {
  kSocketCreated = 0,
  kSocketBound,
  kSocketListening,
  kSocketConnected,  // to a peer (TCP established, UDP/unix connected, accepted)
};

struct SocketOption {
  int32_t level;
  int32_t name;
  uint32_t length;
  uint8_t value[20];
};
inline constexpr int kMaxSocketOptions = 16;

struct SocketRecord {
  int32_t domain;
  int32_t type;       // SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET (no flags)
  int32_t protocol;
  uint32_t state;     // SocketState
  int32_t backlog;
  uint32_t local_len;
  uint32_t peer_len;
  uint32_t option_count;
  sockaddr_storage local;  // bind address (or the address accept/connect gave)
  sockaddr_storage peer;
  SocketOption options[kMaxSocketOptions];
  uint32_t accepted;  // made by accept
  uint32_t reserved;
};

// The interposed calls, after they succeeded.
void RecordSocket(FdTable* table, int fd, int domain, int type, int protocol);
void RecordBind(FdTable* table, int fd, const sockaddr* addr, socklen_t len);
void RecordListen(FdTable* table, int fd, int backlog);
void RecordConnect(FdTable* table, int fd, const sockaddr* addr, socklen_t len);
void RecordAccept(FdTable* table, int listen_fd, int fd, int flags);
void RecordSetsockopt(FdTable* table, int fd, int level, int name, const void* value, socklen_t len);

// Recreating a socket as recorded up to the given state: socket(2), the
// options, then bind/listen. Returns the descriptor or an error naming what
// failed. Used by both kinds.
Status RecreateBoundSocket(const FdRecord& r, int* fd_out);

}  // namespace respct::kernel
