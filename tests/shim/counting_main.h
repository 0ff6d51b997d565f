/* The main() of the shim's counting test programs (mmap_prog, libstate_prog):
 * NAME THREADS ITERATIONS starts THREADS workers (at most 16), each counting
 * ITERATIONS; prints "NAME: progress n=N" every 100 ms until total() reaches
 * THREADS x ITERATIONS, joins the workers and prints "NAME: total=N ok". The
 * SurvivesTwoKills harness (memory_test.cc) reads those lines. `setup(t)`
 * runs before worker t starts; `worker` gets t as its argument. */
#pragma once

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

enum { kMaxCountingThreads = 16 };

static long g_iterations;

static inline int RunCounting(int argc, char** argv, const char* name, void (*setup)(long t),
                              void* (*worker)(void*), long (*total)(long threads)) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s THREADS ITERATIONS\n", name);
    return 2;
  }
  const long threads = atol(argv[1]);
  g_iterations = atol(argv[2]);
  if (threads < 1 || threads > kMaxCountingThreads || g_iterations < 1) return 2;
  for (long t = 0; t < threads; ++t) setup(t);
  pthread_t th[kMaxCountingThreads];
  for (long t = 0; t < threads; ++t) pthread_create(&th[t], NULL, worker, (void*)t);
  for (;;) {
    const long n = total(threads);
    if (n >= threads * g_iterations) break;
    printf("%s: progress n=%ld\n", name, n);
    fflush(stdout);
    struct timespec ts = {0, 100 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  for (long t = 0; t < threads; ++t) pthread_join(th[t], NULL);
  printf("%s: total=%ld ok\n", name, total(threads));
  return 0;
}
