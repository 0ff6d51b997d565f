// mmap_prog THREADS ITERATIONS: memory the program maps for itself, kept
// across kill -9 and recovery. Each thread owns
//   a: 4 MiB mmap'ed, its middle MiB unmapped again (two pieces of one mapping),
//      and 512 KiB of its end given back with MADV_DONTNEED (must read zero);
//   b: a 64 KiB mapping grown to 2 MiB with mremap (moved or not);
//   c: 256 KiB of the program break (sbrk);
// and counts ITERATIONS rounds: each round checks that one word per page of
// a, b and c holds the round number, then writes the next, under the thread's
// mutex (a restart point). Every few rounds it also maps, fills and unmaps a
// scratch mapping. The round counter lives in a itself, so a recovered run
// goes on from the image's round; any page lost or stale fails the check.
// Prints "mmap_prog: progress n=N" every 100 ms and
// "mmap_prog: total=T ok" at the end.
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "counting_main.h"

#define PAGE 4096
#define A_BYTES (4u << 20)
#define B_BYTES (2u << 20)
#define C_BYTES (256u << 10)

struct owned {
  pthread_mutex_t mu;
  uint64_t* a;  // a[0] is the round counter
  uint64_t* b;
  uint64_t* c;
};

static struct owned g_owned[kMaxCountingThreads];

static void die(const char* what, long t, long at, uint64_t got, uint64_t want) {
  fprintf(stderr, "mmap_prog: thread %ld: %s at word %ld: %llu, expected %llu\n", t, what, at,
          (unsigned long long)got, (unsigned long long)want);
  exit(3);
}

static int in_a_mapped(size_t off) {
  return off < (1u << 20) || (off >= (2u << 20) && off < A_BYTES);
}

// Checks every sampled word of thread t's memory against `want`, then writes `next`.
static void round_trip(long t, uint64_t want, uint64_t next) {
  struct owned* o = &g_owned[t];
  for (size_t off = PAGE; off < A_BYTES; off += PAGE) {
    if (!in_a_mapped(off)) continue;
    uint64_t* w = o->a + off / 8;
    if (off >= A_BYTES - (512u << 10)) {
      if (*w != 0) die("a's DONTNEED part not zero", t, (long)(off / 8), *w, 0);
      continue;
    }
    if (*w != want) die("a", t, (long)(off / 8), *w, want);
    *w = next;
  }
  for (size_t off = 0; off < B_BYTES; off += PAGE) {
    uint64_t* w = o->b + off / 8;
    if (*w != want) die("b", t, (long)(off / 8), *w, want);
    *w = next;
  }
  for (size_t off = 0; off < C_BYTES; off += PAGE) {
    uint64_t* w = o->c + off / 8;
    if (*w != want) die("c (sbrk)", t, (long)(off / 8), *w, want);
    *w = next;
  }
}

static void* worker(void* arg) {
  const long t = (long)arg;
  struct owned* o = &g_owned[t];
  for (;;) {
    pthread_mutex_lock(&o->mu);
    const uint64_t n = o->a[0];
    if ((long)n >= g_iterations) {
      pthread_mutex_unlock(&o->mu);
      break;
    }
    round_trip(t, n, n + 1);
    o->a[0] = n + 1;
    pthread_mutex_unlock(&o->mu);
    if (n % 16 == 0) {
      unsigned char* s = mmap(NULL, 192u << 10, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (s == MAP_FAILED) die("scratch mmap failed", t, 0, 0, 0);
      for (size_t i = 0; i < (192u << 10); i += PAGE) {
        if (s[i] != 0) die("scratch mapping not zero", t, (long)i, s[i], 0);
        s[i] = (unsigned char)n;
      }
      if (munmap(s, 192u << 10) != 0) die("scratch munmap failed", t, 0, 0, 0);
    }
  }
  return NULL;
}

static void setup(long t) {
  struct owned* o = &g_owned[t];
  pthread_mutex_init(&o->mu, NULL);
  unsigned char* a = mmap(NULL, A_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  unsigned char* b = mmap(NULL, 64u << 10, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (a == MAP_FAILED || b == MAP_FAILED) die("mmap failed", t, 0, 0, 0);
  memset(b, 0, 64u << 10);
  b = mremap(b, 64u << 10, B_BYTES, MREMAP_MAYMOVE);
  if (b == MAP_FAILED) die("mremap failed", t, 0, 0, 0);
  if (munmap(a + (1u << 20), 1u << 20) != 0) die("munmap of a's middle failed", t, 0, 0, 0);
  memset(a + A_BYTES - (512u << 10), 0xff, 512u << 10);
  if (madvise(a + A_BYTES - (512u << 10), 512u << 10, MADV_DONTNEED) != 0) die("madvise failed", t, 0, 0, 0);
  void* c = sbrk(C_BYTES);
  if (c == (void*)-1) die("sbrk failed", t, 0, 0, 0);
  memset(c, 0, C_BYTES);
  o->a = (uint64_t*)a;
  o->b = (uint64_t*)b;
  o->c = (uint64_t*)c;
}

static long total(long threads) {
  long s = 0;
  for (long t = 0; t < threads; ++t) {
    pthread_mutex_lock(&g_owned[t].mu);
    s += (long)g_owned[t].a[0];
    pthread_mutex_unlock(&g_owned[t].mu);
  }
  return s;
}

int main(int argc, char** argv) { return RunCounting(argc, argv, "mmap_prog", setup, worker, total); }
