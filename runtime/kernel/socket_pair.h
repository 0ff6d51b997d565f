// Socket pairs (socketpair(2)): two connected AF_UNIX sockets, both the
// program's — libevent's signal pipe, a thread's wake-up channel.
//
// Record: at socketpair(2), both ends as one object. Capture, for stream
//   pairs: the bytes queued for reading at each end, copied without consuming
//   them (recv with MSG_PEEK). Datagram and seqpacket pairs: the queued
//   messages, read and sent back in order from the other end when the program
//   still holds it (a thread blocked receiving one is frozen until the
//   release and, in the image, still blocked with the message queued: the
//   same future).
// Recreate: a new pair holding the same bytes or messages at each end; an end
//   the program closed is closed again, so the other reads end of file.
#pragma once

#include <cstdint>

#include "runtime/kernel/fd_table.h"
#include "runtime/kernel/kind_ops.h"

namespace respct::kernel {

struct SocketPairRecord {
  int32_t domain;
  int32_t type;        // without SOCK_NONBLOCK / SOCK_CLOEXEC
  int32_t protocol;
  uint32_t end;        // 0 or 1
  // Bytes queued for reading at this end; for datagram pairs, messages as
  // [uint32 length][bytes] one after the other.
  HeldBytes queued;
};

void RecordSocketPair(FdTable* table, const int fds[2], int domain, int type, int protocol);

}  // namespace respct::kernel
