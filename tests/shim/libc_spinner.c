/* libc_spinner: a thread that spends all its time inside libc (memset of a
 * large buffer, over and over) next to a thread that counts. A stop signal
 * almost always finds the first inside libc, where it may not park, so
 * checkpoints cannot be taken: what respct must then say during the run.
 *
 *   libc_spinner SECONDS
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static volatile int g_stop;
static volatile long g_count;

static void *spin_in_libc(void *arg) {
  (void)arg;
  const size_t len = (size_t)256 << 20;
  char *buf = malloc(len);
  /* Through a pointer, so the compiler cannot inline the fill as its own loop. */
  void *(*volatile fill)(void *, int, size_t) = memset;
  for (int i = 0; !g_stop; ++i) fill(buf, i, len);
  free(buf);
  return NULL;
}

static void *count(void *arg) {
  (void)arg;
  while (!g_stop) ++g_count;
  return NULL;
}

int main(int argc, char **argv) {
  const int seconds = argc > 1 ? atoi(argv[1]) : 5;
  pthread_t a, b;
  pthread_create(&a, NULL, spin_in_libc, NULL);
  pthread_create(&b, NULL, count, NULL);
  struct timespec d = {seconds, 0};
  nanosleep(&d, NULL);
  g_stop = 1;
  pthread_join(a, NULL);
  pthread_join(b, NULL);
  printf("libc_spinner: done\n");
  return 0;
}
