/* incr_server: a counter service with an append journal, unmodified by
 * respct: the shape of a ticket, id or sequence service whose answers must
 * never be taken back. Worker threads serve TCP connections from their own
 * epoll sets (the listener shared with EPOLLEXCLUSIVE), one request per line:
 *   "INCR k"  -> "<new value of counter k>\n"   (k in 0..63)
 *   "GET k"   -> "<value of counter k>\n"
 * Every INCR appends "k v\n" to the journal (O_APPEND) under the lock that
 * increments, before answering: the journal of a key is 1, 2, ..., its value.
 * Lines may be pipelined; answers come in order. SIGTERM ends it, printing
 * "incr_server: served=N ok".
 *
 *   incr_server PORT_FILE JOURNAL [workers]
 * Listens on 127.0.0.1:0 and writes the port to PORT_FILE (once: a recovered
 * server listens on the same port).
 */
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/shim/loopback_listener.h"

#define KEYS 64
#define MAX_CONNS 1024

static int g_listener, g_journal;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static long g_counter[KEYS];
static long g_served;
static volatile sig_atomic_t g_stop;

/* A connection's partial request line. */
struct conn {
  char line[128];
  size_t len;
};
static struct conn *g_conns[MAX_CONNS];

static void on_term(int sig) {
  (void)sig;
  g_stop = 1;
}

/* One request; the answer into out. */
static int serve(const char *req, char *out, size_t cap) {
  int key = -1;
  const int incr = strncmp(req, "INCR ", 5) == 0;
  if (incr) key = atoi(req + 5);
  else if (strncmp(req, "GET ", 4) == 0) key = atoi(req + 4);
  if (key < 0 || key >= KEYS) return snprintf(out, cap, "ERR\n");
  pthread_mutex_lock(&g_lock);
  long v = g_counter[key];
  if (incr) {
    v = ++g_counter[key];
    char j[48];
    const int n = snprintf(j, sizeof j, "%d %ld\n", key, v);
    if (write(g_journal, j, (size_t)n) != n) {
      pthread_mutex_unlock(&g_lock);
      return snprintf(out, cap, "ERR journal\n");
    }
  }
  ++g_served;
  pthread_mutex_unlock(&g_lock);
  return snprintf(out, cap, "%ld\n", v);
}

static void *worker(void *arg) {
  (void)arg;
  const int ep = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN | EPOLLEXCLUSIVE, .data.fd = g_listener};
  epoll_ctl(ep, EPOLL_CTL_ADD, g_listener, &ev);
  struct epoll_event ready[16];
  char buf[4096], out[8192];
  while (!g_stop) {
    const int n = epoll_wait(ep, ready, 16, 100);
    for (int i = 0; i < n; ++i) {
      const int fd = ready[i].data.fd;
      if (fd == g_listener) {
        const int c = accept(g_listener, NULL, NULL);
        if (c < 0) continue;
        if (c >= MAX_CONNS) {
          close(c);
          continue;
        }
        g_conns[c] = calloc(1, sizeof(struct conn));
        struct epoll_event cev = {.events = EPOLLIN, .data.fd = c};
        epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
        continue;
      }
      struct conn *cn = g_conns[fd];
      const ssize_t r = read(fd, buf, sizeof buf);
      if (r <= 0 || cn == NULL) {
        free(cn);
        g_conns[fd] = NULL;
        close(fd);
        continue;
      }
      size_t used = 0;
      for (ssize_t k = 0; k < r; ++k) {
        if (buf[k] != '\n') {
          if (cn->len + 1 < sizeof cn->line) cn->line[cn->len++] = buf[k];
          continue;
        }
        cn->line[cn->len] = '\0';
        cn->len = 0;
        if (used + 64 > sizeof out) {
          (void)!write(fd, out, used);
          used = 0;
        }
        used += (size_t)serve(cn->line, out + used, sizeof out - used);
      }
      if (used > 0 && write(fd, out, used) != (ssize_t)used) {
        free(cn);
        g_conns[fd] = NULL;
        close(fd);
      }
    }
  }
  return NULL;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: incr_server PORT_FILE JOURNAL [workers]\n");
    return 2;
  }
  const int workers = argc > 3 ? atoi(argv[3]) : 3;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_term;
  sigaction(SIGTERM, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);
  g_journal = open(argv[2], O_WRONLY | O_APPEND | O_CREAT | O_TRUNC, 0644);
  if (g_journal < 0) {
    perror("incr_server: journal");
    return 1;
  }
  g_listener = listen_loopback(SOCK_NONBLOCK, 128, argv[1], "incr_server: listen");
  if (g_listener < 0) return 1;
  pthread_t t[64];
  for (int i = 0; i < workers && i < 64; ++i) pthread_create(&t[i], NULL, worker, NULL);
  while (!g_stop) pause();
  for (int i = 0; i < workers && i < 64; ++i) pthread_join(t[i], NULL);
  printf("incr_server: served=%ld ok\n", g_served);
  return 0;
}
