/* The test servers' listener: TCP on 127.0.0.1 at a port the kernel picks,
 * announced to the test as one line in PORT_FILE. Returns the descriptor, or
 * -1 after a perror naming `who`. `type_flags`: SOCK_NONBLOCK or 0. */
#ifndef RESPCT_TESTS_SHIM_LOOPBACK_LISTENER_H
#define RESPCT_TESTS_SHIM_LOOPBACK_LISTENER_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

static inline int listen_loopback(int type_flags, int backlog, const char *port_file, const char *who) {
  const int fd = socket(AF_INET, SOCK_STREAM | type_flags, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t alen = sizeof a;
  if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, backlog) != 0 ||
      getsockname(fd, (struct sockaddr *)&a, &alen) != 0) {
    perror(who);
    return -1;
  }
  FILE *f = fopen(port_file, "w");
  if (f == NULL) {
    perror(who);
    return -1;
  }
  fprintf(f, "%d\n", ntohs(a.sin_port));
  fclose(f);
  return fd;
}

#endif
