/* grow_prog: memory that keeps growing while epochs are taken, the case that
 * makes respct extend its tracking under the pause. Threads start one after
 * another (each on a further stack slot) and each allocates and fills 4 MiB
 * heap chunks in turns, so the heap's used part grows well past respct's
 * tracking step, then some chunks are rewritten and freed. Prints a digest of
 * the surviving chunks. libc only. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { kThreads = 6, kChunksPerThread = 8, kChunk = 4 << 20 };

static unsigned char *chunks[kThreads][kChunksPerThread];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static void *grow(void *arg) {
  const int t = (int)(intptr_t)arg;
  for (int c = 0; c < kChunksPerThread; ++c) {
    unsigned char *p = malloc(kChunk);
    for (size_t i = 0; i < kChunk; i += 64) p[i] = (unsigned char)(t * 31 + c * 7 + i / 4096);
    pthread_mutex_lock(&lock);
    chunks[t][c] = p;
    pthread_mutex_unlock(&lock);
    usleep(15000);
  }
  for (int c = 0; c < kChunksPerThread; c += 2) {
    memset(chunks[t][c] + 1000, t + c, 100000);
    free(chunks[t][c + 1]);
    chunks[t][c + 1] = NULL;
    usleep(5000);
  }
  return NULL;
}

int main(void) {
  pthread_t threads[kThreads];
  for (int t = 0; t < kThreads; ++t) {
    pthread_create(&threads[t], NULL, grow, (void *)(intptr_t)t);
    usleep(20000);
  }
  for (int t = 0; t < kThreads; ++t) pthread_join(threads[t], NULL);
  uint64_t h = 0xcbf29ce484222325ull;
  for (int t = 0; t < kThreads; ++t)
    for (int c = 0; c < kChunksPerThread; ++c)
      if (chunks[t][c] != NULL)
        for (size_t i = 0; i < kChunk; i += 512) h = (h ^ chunks[t][c][i]) * 0x100000001b3ull;
  printf("grow: digest=%016llx threads=%d ok\n", (unsigned long long)h, kThreads);
  return 0;
}
