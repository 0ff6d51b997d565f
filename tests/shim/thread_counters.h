/* Per-thread round counters, one mutex each (so every count is taken at lock
 * depth 1), for the counting_main.h programs that keep their counts in
 * globals (libstate_prog, setxid_prog): pass CountersSetup and CountersTotal
 * to RunCounting. */
#pragma once

#include <pthread.h>

#include "counting_main.h"

static long g_done[kMaxCountingThreads];
static pthread_mutex_t g_mu[kMaxCountingThreads];

static inline void CountersSetup(long t) { pthread_mutex_init(&g_mu[t], NULL); }

static inline long CountersTotal(long threads) {
  long s = 0;
  for (long t = 0; t < threads; ++t) {
    pthread_mutex_lock(&g_mu[t]);
    s += g_done[t];
    pthread_mutex_unlock(&g_mu[t]);
  }
  return s;
}
