/* recovery_prog: what a recovery must bring back beyond plain memory, in one
 * unmodified program built with -fstack-protector-all (every frame has a
 * canary, so a resumed frame checks the canary of the process that wrote the
 * image: DESIGN §8).
 *
 * Worker threads count under a mutex and keep three mirrors of their count:
 * a __thread variable (the executable's static TLS), a heap array and a deep
 * recursion through frames with arrays; errno is set to a marker the loop
 * checks across every lock boundary (restart point). main keeps a jmp_buf
 * from before the work and longjmps through it at the end, which needs the
 * pointer guard of the original process (glibc mangles the saved SP and PC).
 * Prints "recovery_prog: progress n=N" lines and, at the end,
 * "recovery_prog: total=T ok" or a line saying what broke (exit 1).
 *
 *   recovery_prog [threads] [iterations per thread] [hold]
 * With "hold", it also keeps a file open and a SIGUSR1 handler installed:
 * what respct-recover must warn it cannot restore.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ERRNO_MARK 4242

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static long g_total;
static long *g_heap_counts;
static long g_iterations;
static __thread long t_count;
static jmp_buf g_env;
static volatile int g_failed;

static void fail(const char *what, long t) {
  printf("recovery_prog: FAILED %s (thread %ld)\n", what, t);
  fflush(stdout);
  g_failed = 1;
  exit(1);
}

/* Frames with local arrays (so each has a canary) that carry a value down
 * and back up: a corrupted frame or canary shows. */
static long deep(long depth, long value) {
  char pad[64];
  memset(pad, (int)(value & 0x7f), sizeof pad);
  if (depth == 0) return value;
  const long r = deep(depth - 1, value + 1) - 1;
  return pad[depth % 64] == (char)(value & 0x7f) ? r : r + 1000;
}

static void *worker(void *arg) {
  const long t = (long)arg;
  errno = ERRNO_MARK;
  for (long i = 0; i < g_iterations; ++i) {
    pthread_mutex_lock(&g_lock);
    ++g_total;
    pthread_mutex_unlock(&g_lock);
    ++t_count;
    ++g_heap_counts[t];
    if (t_count != g_heap_counts[t]) fail("thread-local count differs from the heap's", t);
    if (errno != ERRNO_MARK) fail("errno changed", t);
    if ((i & 1023) == 0) {
      if (deep(40, i) != i) fail("deep frames returned a wrong value", t);
    }
  }
  return (void *)(t + 1);
}

static void on_usr1(int sig) { (void)sig; }

int main(int argc, char **argv) {
  const long threads = argc > 1 ? atol(argv[1]) : 3;
  g_iterations = argc > 2 ? atol(argv[2]) : 3000000;
  if (argc > 3 && strcmp(argv[3], "hold") == 0) {
    if (open("/dev/null", O_RDONLY) < 0) return 1;
    signal(SIGUSR1, on_usr1);
  }
  g_heap_counts = calloc((size_t)threads, sizeof(long));
  volatile long joined = 0;
  if (setjmp(g_env) != 0) {
    /* Back from the longjmp at the end, possibly in another process. */
    if (g_total != threads * g_iterations || joined != threads) {
      printf("recovery_prog: FAILED total=%ld joined=%ld\n", g_total, (long)joined);
      return 1;
    }
    printf("recovery_prog: total=%ld ok\n", g_total);
    return 0;
  }
  pthread_t tids[64];
  for (long t = 0; t < threads && t < 64; ++t) pthread_create(&tids[t], NULL, worker, (void *)t);
  for (;;) {
    struct timespec ts = {0, 100 * 1000 * 1000};
    nanosleep(&ts, NULL);
    pthread_mutex_lock(&g_lock);
    const long n = g_total;
    pthread_mutex_unlock(&g_lock);
    printf("recovery_prog: progress n=%ld\n", n);
    fflush(stdout);
    if (n == threads * g_iterations) break;
  }
  for (long t = 0; t < threads; ++t) {
    void *ret = NULL;
    pthread_join(tids[t], &ret);
    if ((long)ret != t + 1) fail("pthread_join returned a wrong value", t);
    joined = joined + 1;
  }
  longjmp(g_env, 1);
}
