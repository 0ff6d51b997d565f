// setxid_prog THREADS ITERATIONS: each thread counts ITERATIONS rounds, and
// every round calls setgid(getgid()), which glibc carries out by signalling
// every thread of the process and waiting for each (__nptl_setxid), holding
// libc's own locks across those system calls. So a checkpoint often finds a
// thread inside it: an image in which a thread was parked there resumed
// waiting for acknowledgements forever (memcached -u, seen in issue 11). A
// recovered run that hangs, or whose counts restart, fails the test.
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "thread_counters.h"

static void* worker(void* arg) {
  const long t = (long)arg;
  for (;;) {
    pthread_mutex_lock(&g_mu[t]);
    if (g_done[t] >= g_iterations) {
      pthread_mutex_unlock(&g_mu[t]);
      return NULL;
    }
    ++g_done[t];
    pthread_mutex_unlock(&g_mu[t]);
    if (setgid(getgid()) != 0) {
      perror("setxid_prog: setgid");
      exit(1);
    }
    struct timespec ts = {0, 20 * 1000};
    nanosleep(&ts, NULL);
  }
}

int main(int argc, char** argv) { return RunCounting(argc, argv, "setxid_prog", CountersSetup, worker, CountersTotal); }
