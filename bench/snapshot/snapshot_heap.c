/* snapshot_heap: the application of the full-process checkpoint comparison
 * (P8). An ordinary C program that knows nothing about respct: it allocates
 * a heap buffer (default 1 GiB), fills every byte, prints "ready" (with the
 * wall-clock time, to tell set-up epochs from the rest) and then,
 * every interval, rewrites a fixed fraction of its pages (default 1 %), chosen
 * by a fixed-seed generator, and sleeps until the next interval.
 *
 * With --fork-snapshot FILE it also takes a snapshot every interval the way
 * Redis BGSAVE does: fork(), and the child writes the whole buffer to FILE,
 * fsyncs it and exits, while the parent goes on. The parent times its fork()
 * (its own stop) and the child reports how long the snapshot took until it
 * was durable; a new snapshot waits for the previous one (as BGSAVE refuses
 * a second one).
 *
 * With --report-intervals it prints "snapshot_heap: interval N" after each
 * interval's writes (bench_recovery waits for that line to know that a
 * recovered run is going again).
 *
 * At the end it prints one JSON line with what it measured, then
 * "snapshot_heap: digest=<hex> ok". Driven by bench/run-all. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { kPage = 4096, kMaxSnapshots = 10000 };

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t unix_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t next_random(uint64_t *x) {
  *x ^= *x << 13;
  *x ^= *x >> 7;
  *x ^= *x << 17;
  return *x;
}

/* Word by word, so the stores are this program's code (a libc memset of the
 * whole buffer could not be stopped at a restart point). */
static void write_page(uint64_t *page, uint64_t stamp) {
  for (size_t i = 0; i < kPage / sizeof(uint64_t); ++i) page[i] = stamp + i;
}

/* Child of a snapshot: writes the buffer, makes it durable, reports the time. */
static void snapshot_child(const char *path, const unsigned char *buf, size_t len, int report_fd, double t0) {
  const int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) _exit(1);
  for (size_t off = 0; off < len;) {
    const ssize_t n = write(fd, buf + off, len - off > (8u << 20) ? (8u << 20) : len - off);
    if (n <= 0) _exit(1);
    off += (size_t)n;
  }
  if (fsync(fd) != 0 || close(fd) != 0) _exit(1);
  const double took = now_s() - t0;
  if (write(report_fd, &took, sizeof took) != (ssize_t)sizeof took) _exit(1);
  _exit(0);
}

static void usage(const char *argv0) {
  fprintf(stderr,
          "usage: %s [--heap-mib N] [--dirty-pct P] [--interval-ms N] [--seconds S] [--fork-snapshot FILE]\n"
          "          [--report-intervals]\n"
          "  rewrites P %% of the pages of an N MiB heap buffer every interval for S seconds\n",
          argv0);
  exit(2);
}

int main(int argc, char **argv) {
  size_t heap_mib = 1024;
  double dirty_pct = 1.0, seconds = 10.0;
  long interval_ms = 100;
  const char *snapshot_file = NULL;
  int report_intervals = 0;
  for (int i = 1; i < argc; ++i) {
    if (strcmp(argv[i], "--report-intervals") == 0) {
      report_intervals = 1;
      continue;
    }
    if (i + 1 >= argc) usage(argv[0]);
    if (strcmp(argv[i], "--heap-mib") == 0) heap_mib = strtoul(argv[++i], NULL, 10);
    else if (strcmp(argv[i], "--dirty-pct") == 0) dirty_pct = strtod(argv[++i], NULL);
    else if (strcmp(argv[i], "--interval-ms") == 0) interval_ms = strtol(argv[++i], NULL, 10);
    else if (strcmp(argv[i], "--seconds") == 0) seconds = strtod(argv[++i], NULL);
    else if (strcmp(argv[i], "--fork-snapshot") == 0) snapshot_file = argv[++i];
    else usage(argv[0]);
  }
  if (heap_mib == 0 || dirty_pct <= 0 || dirty_pct > 100 || interval_ms <= 0 || seconds <= 0) usage(argv[0]);

  const size_t len = heap_mib << 20, pages = len / kPage;
  unsigned char *buf = malloc(len);
  if (buf == NULL) {
    fprintf(stderr, "snapshot_heap: cannot allocate %zu MiB\n", heap_mib);
    return 1;
  }
  for (size_t p = 0; p < pages; ++p) write_page((uint64_t *)(buf + p * kPage), p * 0x9e3779b97f4a7c15ull | 1);
  /* The wall clock, to match respct's per-epoch timeline (capture times). */
  printf("snapshot_heap: ready heap_mib=%zu pages=%zu unix_ns=%llu\n", heap_mib, pages,
         (unsigned long long)unix_ns());
  fflush(stdout);

  static double fork_us[kMaxSnapshots], snapshot_ms[kMaxSnapshots];
  int snapshots = 0, report[2] = {-1, -1};
  pid_t child = -1;
  if (snapshot_file != NULL && pipe2(report, O_CLOEXEC) != 0) {
    perror("snapshot_heap: pipe");
    return 1;
  }
  const size_t per_interval = (size_t)((double)pages * dirty_pct / 100.0 + 0.5);
  uint64_t rng = 0x2545f4914f6cdd1dull;
  long intervals = 0;
  const double start = now_s();
  double next = start;
  while (now_s() - start < seconds) {
    for (size_t i = 0; i < per_interval; ++i) {
      const size_t p = (size_t)(next_random(&rng) % pages);
      write_page((uint64_t *)(buf + p * kPage), rng);
    }
    ++intervals;
    if (report_intervals) {
      printf("snapshot_heap: interval %ld\n", intervals);
      fflush(stdout);
    }
    if (snapshot_file != NULL && snapshots < kMaxSnapshots) {
      if (child > 0) { /* the previous snapshot first */
        double took = 0;
        if (read(report[0], &took, sizeof took) != (ssize_t)sizeof took || waitpid(child, NULL, 0) != child) {
          fprintf(stderr, "snapshot_heap: snapshot child failed\n");
          return 1;
        }
        snapshot_ms[snapshots++] = took * 1e3;
      }
      const double t0 = now_s();
      child = fork();
      if (child == 0) snapshot_child(snapshot_file, buf, len, report[1], t0);
      if (child < 0) {
        perror("snapshot_heap: fork");
        return 1;
      }
      fork_us[snapshots] = (now_s() - t0) * 1e6;
    }
    next += (double)interval_ms / 1e3;
    const double wait = next - now_s();
    if (wait > 0) {
      struct timespec ts = {(time_t)wait, (long)((wait - (double)(time_t)wait) * 1e9)};
      while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
      }
    }
  }
  if (child > 0) {
    double took = 0;
    if (read(report[0], &took, sizeof took) == (ssize_t)sizeof took && waitpid(child, NULL, 0) == child)
      snapshot_ms[snapshots++] = took * 1e3;
  }

  printf("{\"heap_mib\":%zu,\"dirty_pct\":%g,\"interval_ms\":%ld,\"intervals\":%ld,\"pages_per_interval\":%zu,"
         "\"fork_us\":[",
         heap_mib, dirty_pct, interval_ms, intervals, per_interval);
  for (int i = 0; i < snapshots; ++i) printf("%s%.1f", i ? "," : "", fork_us[i]);
  printf("],\"snapshot_ms\":[");
  for (int i = 0; i < snapshots; ++i) printf("%s%.2f", i ? "," : "", snapshot_ms[i]);
  printf("]}\n");
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t p = 0; p < pages; ++p) h = (h ^ ((uint64_t *)(buf + p * kPage))[p % 512]) * 0x100000001b3ull;
  printf("snapshot_heap: digest=%016llx ok\n", (unsigned long long)h);
  return 0;
}
