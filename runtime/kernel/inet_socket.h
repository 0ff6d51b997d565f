// TCP and UDP sockets (AF_INET, AF_INET6).
//
// Record: socket_record.h (socket, bind, listen, connect, accept, setsockopt).
// Recreate, before any thread resumes so clients can reconnect at once:
//   - a listening TCP socket, or a bound UDP socket: socket(2) with the same
//     options, bound to the same address (the port of a killed listener is
//     taken again even while its old connections linger in TIME_WAIT), and for
//     TCP listening with the same backlog;
//   - a connected UDP socket: connected to the same peer again (it is local
//     state only);
//   - a connected TCP socket (accepted or connected by the program): its peer
//     was talking to a process that died, and no kernel keeps a connection
//     across that. It comes back as a TCP socket whose peer reset the
//     connection — read(2) reports ECONNRESET then end of file, write(2)
//     EPIPE — so the program's own disconnect path closes it and cleans up.
// What was queued in a socket's buffers at the crash is lost with the
// connection; the clients reconnect and retry (DESIGN §9).
#pragma once

#include "runtime/kernel/socket_record.h"
