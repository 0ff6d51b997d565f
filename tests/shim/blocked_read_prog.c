/* blocked_read_prog: a thread blocks in read() on a pipe into a heap buffer
 * for several epochs; the main thread writes into the pipe only later. Under
 * the mprotect dirty tracker the buffer's pages are opened before the read
 * and must stay open while the kernel may still write them: an epoch that
 * re-protected them would make the read fail with EFAULT. Also a recv() on a
 * socketpair the same way.
 *
 *   blocked_read_prog
 * Prints "blocked_read_prog: ok" or what failed (exit 1).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int g_pipe[2], g_pair[2];
static char *g_buf, *g_buf2;
static ssize_t g_got = -2, g_got2 = -2;
static int g_err, g_err2;

static void *reader(void *arg) {
  (void)arg;
  g_got = read(g_pipe[0], g_buf, 1 << 16);
  g_err = errno;
  g_got2 = recv(g_pair[0], g_buf2, 1 << 16, 0);
  g_err2 = errno;
  return NULL;
}

int main(void) {
  g_buf = malloc(1 << 16);
  g_buf2 = malloc(1 << 16);
  memset(g_buf, 1, 1 << 16);  /* written once, so tracked and later protected */
  memset(g_buf2, 1, 1 << 16);
  if (pipe(g_pipe) != 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, g_pair) != 0) return 1;
  pthread_t t;
  pthread_create(&t, NULL, reader, NULL);
  struct timespec d = {0, 300 * 1000 * 1000};  /* 30 epochs of 10 ms */
  nanosleep(&d, NULL);
  const char msg[] = "hello through a pipe";
  if (write(g_pipe[1], msg, sizeof msg) != (ssize_t)sizeof msg) return 1;
  nanosleep(&d, NULL);
  if (send(g_pair[1], msg, sizeof msg, 0) != (ssize_t)sizeof msg) return 1;
  pthread_join(t, NULL);
  if (g_got != (ssize_t)sizeof msg || memcmp(g_buf, msg, sizeof msg) != 0) {
    printf("blocked_read_prog: FAILED read returned %zd (%s)\n", g_got, strerror(g_err));
    return 1;
  }
  if (g_got2 != (ssize_t)sizeof msg || memcmp(g_buf2, msg, sizeof msg) != 0) {
    printf("blocked_read_prog: FAILED recv returned %zd (%s)\n", g_got2, strerror(g_err2));
    return 1;
  }
  printf("blocked_read_prog: ok\n");
  return 0;
}
