/* Small helpers shared by the example programs: argument parsing, a seeded
 * PRNG, a 64-bit FNV-1a digest and a monotonic clock. Plain C, libc only: the
 * examples must stay ordinary programs that know nothing about respct. */
#ifndef RESPCT_EXAMPLES_COMMON_H
#define RESPCT_EXAMPLES_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* splitmix64: a tiny, well-mixed PRNG; each thread keeps its own state. */
static inline uint64_t ex_next(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static inline uint64_t ex_fnv(uint64_t h, const void *data, size_t len) {
  const unsigned char *p = (const unsigned char *)data;
  if (h == 0) h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < len; ++i) h = (h ^ p[i]) * 0x100000001b3ull;
  return h;
}

static inline double ex_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Parses "--name value" pairs into unsigned longs; returns 0 on success. */
struct ex_opt {
  const char *name;
  unsigned long *value;
  const char *help;
};

static inline int ex_parse(int argc, char **argv, struct ex_opt *opts, size_t n, const char *usage) {
  for (int i = 1; i < argc; ++i) {
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      printf("%s\n\noptions:\n", usage);
      for (size_t k = 0; k < n; ++k) printf("  --%-12s %s (default %lu)\n", opts[k].name, opts[k].help, *opts[k].value);
      exit(0);
    }
    size_t k = 0;
    for (; k < n; ++k) {
      if (strncmp(argv[i], "--", 2) == 0 && strcmp(argv[i] + 2, opts[k].name) == 0) break;
    }
    if (k == n || i + 1 >= argc) {
      fprintf(stderr, "%s: unknown option or missing value: %s (try --help)\n", argv[0], argv[i]);
      return -1;
    }
    char *end = NULL;
    *opts[k].value = strtoul(argv[++i], &end, 10);
    if (end == argv[i] || *end != '\0') {
      fprintf(stderr, "%s: --%s needs a number, got '%s'\n", argv[0], opts[k].name, argv[i]);
      return -1;
    }
  }
  return 0;
}

#endif
