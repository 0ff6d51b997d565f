// libstate.so: a shared library with state of its own, for
// libstate_prog.c. Its per-thread counters are in .data (initialised, so the
// file-backed part of the segment) behind a lock in .bss; its constructor
// records the pid of the process it starts in. After a recovery the counters
// must be the image's (the program changed them) and the pid this process's
// (start-up state is re-initialised, not restored: runtime/core/recovery.cc).
#include <pthread.h>
#include <unistd.h>

#define LIBSTATE_BASE 1000

static long g_counts[16] = {[0 ... 15] = LIBSTATE_BASE};
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static pid_t g_startup_pid;

__attribute__((constructor)) static void record_pid(void) { g_startup_pid = getpid(); }

// Adds one to thread t's counter; returns how many adds it has seen.
long libstate_add(long t) {
  pthread_mutex_lock(&g_mu);
  const long n = ++g_counts[t] - LIBSTATE_BASE;
  pthread_mutex_unlock(&g_mu);
  return n;
}

pid_t libstate_startup_pid(void) { return g_startup_pid; }
