/* stdio_prog: what a program does to glibc's streams, across a recovery.
 *
 * stdout is made line-buffered and left holding a partial line; a file is
 * fopen'ed, written and never closed (exit is what flushes it); a worker
 * thread keeps the process busy at restart points. Then, in phases driven by
 * files the test creates:
 *   <dir>/go1 exists: complete the stdout line ("...part-rest"), which a
 *                     line-buffered stdout writes at once;
 *   <dir>/go2 exists: return from main (exit flushes the fopen'ed file).
 * stderr gets "stdio_prog: ready" (raw write) once the streams are set up.
 *
 *   stdio_prog <dir>
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile int g_stop;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static long g_ticks;

static void *worker(void *arg) {
  (void)arg;
  while (!g_stop) {
    pthread_mutex_lock(&g_lock);
    ++g_ticks;
    pthread_mutex_unlock(&g_lock);
  }
  return NULL;
}

static void wait_for(const char *dir, const char *name) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  const struct timespec tick = {0, 5 * 1000 * 1000};
  while (access(path, F_OK) != 0) nanosleep(&tick, NULL);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: stdio_prog DIR\n");
    return 2;
  }
  char path[4096];
  snprintf(path, sizeof path, "%s/stdio_prog.file", argv[1]);
  FILE *f = fopen(path, "w");
  if (f == NULL) {
    perror("stdio_prog: fopen");
    return 1;
  }
  setvbuf(stdout, NULL, _IOLBF, 0);
  printf("stdio_prog: part-");
  fprintf(f, "stdio_prog: file line\n");
  pthread_t t;
  pthread_create(&t, NULL, worker, NULL);
  static const char ready[] = "stdio_prog: ready\n";
  (void)!write(2, ready, strlen(ready));
  wait_for(argv[1], "go1");
  printf("rest\n");
  wait_for(argv[1], "go2");
  g_stop = 1;
  pthread_join(t, NULL);
  return 0;  // f is never closed: exit flushes it
}
