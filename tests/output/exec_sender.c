/* exec_sender: sends a line to 127.0.0.1:PORT, then execs PROGRAM (which
 * runs without respct and inherits the connection). What output commit held
 * must reach the peer before the exec replaces this program.
 *
 *   exec_sender PORT PROGRAM [ARGS...]
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: exec_sender PORT PROGRAM [ARGS...]\n");
    return 2;
  }
  const int s = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(argv[1])),
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  if (connect(s, (struct sockaddr *)&a, sizeof a) != 0) {
    perror("exec_sender: connect");
    return 1;
  }
  static const char line[] = "sent before the exec\n";
  if (write(s, line, strlen(line)) != (ssize_t)strlen(line)) return 1;
  execv(argv[2], argv + 2);
  perror("exec_sender: exec");
  return 1;
}
