/* stream_server: a non-blocking sender driven by epoll, the way event loops
 * write: it accepts one connection, makes it non-blocking, and writes
 * RECORDS numbered 64-byte records in 64 KiB writes, waiting for EPOLLOUT
 * whenever a write falls short or fails with EAGAIN; then shutdown(SHUT_WR)
 * and close, which must reach the client after the last record.
 *
 *   stream_server PORT_FILE RECORDS lt|et|sendfile
 * Writes the listening port to PORT_FILE; "et" registers the socket
 * edge-triggered (EPOLLET); "sendfile" puts the records in a temporary file
 * first and sends it with sendfile(2), level-triggered. Prints
 * "stream_server: sent=N ok".
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/shim/loopback_listener.h"

#define RECORD 64
#define CHUNK (64 * 1024)

#define TOKEN 0x5eed /* the socket's epoll data */

/* Waits (30 s at most) for the socket's EPOLLOUT. */
static int wait_writable(int ep) {
  struct epoll_event got;
  if (epoll_wait(ep, &got, 1, 30000) == 1 && got.data.u64 == TOKEN) return 1;
  fprintf(stderr, "stream_server: no EPOLLOUT in 30 s\n");
  return 0;
}

/* The end of the stream, after the last record. */
static int finish(int c, long records) {
  shutdown(c, SHUT_WR);
  close(c);
  printf("stream_server: sent=%ld ok\n", records);
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: stream_server PORT_FILE RECORDS lt|et\n");
    return 2;
  }
  const long records = atol(argv[2]);
  const int edge = strcmp(argv[3], "et") == 0;
  const int l = listen_loopback(0, 1, argv[1], "stream_server: listen");
  if (l < 0) return 1;
  const int c = accept(l, NULL, NULL);
  if (c < 0) {
    perror("stream_server: accept");
    return 1;
  }
  fcntl(c, F_SETFL, fcntl(c, F_GETFL) | O_NONBLOCK);
  const int ep = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLOUT | (edge ? EPOLLET : 0), .data.u64 = TOKEN};
  epoll_ctl(ep, EPOLL_CTL_ADD, c, &ev);
  static char buf[CHUNK + 1];  /* + the NUL snprintf ends the last record with */
  if (strcmp(argv[3], "sendfile") == 0) {
    FILE *t = tmpfile();
    for (long i = 0; i < records; ++i) fprintf(t, "%063ld\n", i);
    fflush(t);
    const int in = fileno(t);
    off_t at = 0;
    const off_t size = (off_t)records * RECORD;
    while (at < size) {
      const ssize_t n = sendfile(c, in, &at, (size_t)(size - at));
      if (n < 0 && errno != EAGAIN) {
        perror("stream_server: sendfile");
        return 1;
      }
      if (n <= 0 && !wait_writable(ep)) return 1;
    }
    return finish(c, records);
  }
  long next = 0;    /* next record to put in buf */
  size_t have = 0;  /* bytes of buf not yet written */
  size_t off = 0;
  while (next < records || have > 0) {
    if (have == 0) {
      off = 0;
      while (have + RECORD <= CHUNK && next < records) {
        snprintf(buf + have, RECORD + 1, "%063ld\n", next++);
        have += RECORD;
      }
    }
    const ssize_t n = write(c, buf + off, have);
    if (n > 0) {
      off += (size_t)n;
      have -= (size_t)n;
      if (have == 0 || !edge) continue;  /* edge-triggered: write until EAGAIN */
    } else if (n < 0 && errno != EAGAIN) {
      perror("stream_server: write");
      return 1;
    }
    if (!wait_writable(ep)) return 1;
  }
  return finish(c, records);
}
