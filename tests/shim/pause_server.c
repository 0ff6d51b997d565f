/* pause_server: the shape of many real servers, unmodified: worker threads
 * serve a TCP echo-and-count protocol from their own epoll sets while the
 * main thread, having started them, only waits for a signal in pause() — a
 * call in libc the shim must not let stop checkpoints (issue: it did, and
 * every attempt waited out the quiescence bound). SIGTERM ends it cleanly.
 *
 *   pause_server PORT_FILE [workers]
 * Listens on 127.0.0.1:0 and writes the port to PORT_FILE. Each request is a
 * line; the answer is "<n>\n", the count of lines served so far.
 */
#include <errno.h>
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

static int g_listener;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static long g_served;
static volatile sig_atomic_t g_stop;

static void on_term(int sig) {
  (void)sig;
  g_stop = 1;
}

static void *worker(void *arg) {
  (void)arg;
  const int ep = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN | EPOLLEXCLUSIVE, .data.fd = g_listener};
  epoll_ctl(ep, EPOLL_CTL_ADD, g_listener, &ev);
  struct epoll_event ready[16];
  char buf[512];
  while (!g_stop) {
    const int n = epoll_wait(ep, ready, 16, 100);
    for (int i = 0; i < n; ++i) {
      const int fd = ready[i].data.fd;
      if (fd == g_listener) {
        const int c = accept(g_listener, NULL, NULL);
        if (c < 0) continue;
        struct epoll_event cev = {.events = EPOLLIN, .data.fd = c};
        epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
        continue;
      }
      const ssize_t r = read(fd, buf, sizeof buf);
      if (r <= 0) {
        close(fd);
        continue;
      }
      for (ssize_t k = 0; k < r; ++k) {
        if (buf[k] != '\n') continue;
        pthread_mutex_lock(&g_lock);
        const long v = ++g_served;
        pthread_mutex_unlock(&g_lock);
        char out[32];
        const int len = snprintf(out, sizeof out, "%ld\n", v);
        if (write(fd, out, (size_t)len) != len) break;
      }
    }
  }
  return NULL;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: pause_server PORT_FILE [workers]\n");
    return 2;
  }
  const int workers = argc > 2 ? atoi(argv[2]) : 3;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_term;
  sigaction(SIGTERM, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);
  g_listener = listen_loopback(SOCK_NONBLOCK, 128, argv[1], "pause_server: listen");
  if (g_listener < 0) return 1;
  pthread_t t[64];
  for (int i = 0; i < workers && i < 64; ++i) pthread_create(&t[i], NULL, worker, NULL);
  while (!g_stop) pause();
  for (int i = 0; i < workers && i < 64; ++i) pthread_join(t[i], NULL);
  printf("pause_server: served=%ld ok\n", g_served);
  return 0;
}
