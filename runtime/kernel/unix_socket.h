// AF_UNIX sockets made with socket(2): bound, listening, or connected.
//
// Record: socket_record.h. Recreate:
//   - listening or bound to a path: a socket file left by the dead process is
//     removed first — only if it is a socket and nothing answers on it — then
//     the socket is bound and listens again; abstract addresses just bind;
//   - connected (to another process, or accepted from one): the peer was
//     talking to a process that died; it comes back as a stream whose peer
//     closed it (read(2) gives end of file, write(2) EPIPE). A connection
//     between two of the program's own descriptors is a socket pair
//     (socket_pair.h) when socketpair(2) made it.
#pragma once

#include "runtime/kernel/socket_record.h"
