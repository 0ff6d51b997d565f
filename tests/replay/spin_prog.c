/* spin_prog: threads that compute without ever reaching a restart point (no
 * lock, no call respct interposes), so every checkpoint has to stop them with
 * its signal, and their saved context sits inside a signal handler. Runs
 * until killed. libc only. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>

enum { kThreads = 2 };

static volatile uint64_t results[kThreads];

__attribute__((noinline)) static uint64_t spin_work(uint64_t x) {
  for (int i = 0; i < 1000000; ++i) x = x * 6364136223846793005ull + 1442695040888963407ull;
  return x;
}

static void *spinner(void *arg) {
  const int id = (int)(intptr_t)arg;
  uint64_t x = (uint64_t)id;
  for (;;) {
    x = spin_work(x);
    results[id] = x;
  }
  return NULL;
}

int main(void) {
  pthread_t threads[kThreads];
  for (int i = 0; i < kThreads; ++i) pthread_create(&threads[i], NULL, spinner, (void *)(intptr_t)i);
  printf("spin: started\n");
  fflush(stdout);
  for (int i = 0; i < kThreads; ++i) pthread_join(threads[i], NULL);
  return 0;
}
