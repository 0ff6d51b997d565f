// libstate_prog THREADS ITERATIONS: each thread counts ITERATIONS adds both
// in its own global and in libstate.so's data, and checks at every add that
// the two agree and that the library's start-up pid is this process's. A
// library's data lost by a recovery (counts restarting) or restored where it
// should not be (the old process's pid) fails it.
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "thread_counters.h"

long libstate_add(long t);
pid_t libstate_startup_pid(void);

static void* worker(void* arg) {
  const long t = (long)arg;
  for (;;) {
    pthread_mutex_lock(&g_mu[t]);
    if (g_done[t] >= g_iterations) {
      pthread_mutex_unlock(&g_mu[t]);
      return NULL;
    }
    const long seen = libstate_add(t);
    ++g_done[t];
    if (seen != g_done[t]) {
      fprintf(stderr, "libstate_prog: thread %ld: the library counted %ld adds, the program %ld\n", t, seen,
              g_done[t]);
      exit(1);
    }
    pthread_mutex_unlock(&g_mu[t]);
    if (libstate_startup_pid() != getpid()) {
      fprintf(stderr, "libstate_prog: the library's start-up pid is %d, this process is %d\n",
              (int)libstate_startup_pid(), (int)getpid());
      exit(1);
    }
    struct timespec ts = {0, 20 * 1000};
    nanosleep(&ts, NULL);
  }
}

int main(int argc, char** argv) { return RunCounting(argc, argv, "libstate_prog", CountersSetup, worker, CountersTotal); }
