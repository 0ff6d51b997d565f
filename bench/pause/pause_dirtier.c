/* pause_dirtier: dirties a heap buffer at a steady rate, for bench_pause.
 *
 * An ordinary program (no respct headers): bench_pause runs it under
 * respct-run and reads the per-epoch timeline. It writes --epoch-bytes worth
 * of 64-byte lines every --epoch-ms, paced by the clock in 1 ms ticks (the
 * sleep between ticks is a blocking call, so an epoch finds the thread parked
 * or stops it between two lines), so each epoch ships about --epoch-bytes;
 * the driver uses the exact bytes of each epoch from the timeline, not this
 * target. After a pause the writer catches up on the lines it owes, capped at
 * one epoch's worth, so a stall does not turn into a burst that keeps growing.
 *
 * Patterns (each line written gets a new value, so the line differ always
 * finds it changed):
 *   dense:  consecutive lines, every byte of each line written;
 *   sparse: one 8-byte store per line, the lines of one epoch spread evenly
 *           over the whole buffer (stride = buffer lines / lines per epoch),
 *           so few lines change per dirty page while the target is small.
 *
 * Output: "pause_dirtier: steady_unix_ns=<ns>" once the buffer is populated
 * (epochs before it hold the set-up, not the pattern), then at the end
 * "pause_dirtier: lines=<written> skipped=<owed lines dropped by the cap> ok". */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(clockid_t clock) {
  struct timespec ts;
  clock_gettime(clock, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static unsigned long arg(int argc, char **argv, const char *name, unsigned long def) {
  for (int i = 1; i + 1 < argc; ++i)
    if (strcmp(argv[i], name) == 0) return strtoul(argv[i + 1], NULL, 10);
  return def;
}

static const char *sarg(int argc, char **argv, const char *name, const char *def) {
  for (int i = 1; i + 1 < argc; ++i)
    if (strcmp(argv[i], name) == 0) return argv[i + 1];
  return def;
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "--help") == 0) {
    printf("usage: pause_dirtier [--mib 256] [--epoch-bytes 1048576] [--epoch-ms 10] [--seconds 2]\n"
           "                     [--pattern dense|sparse] [--settle-ms 500]\n"
           "Dirties --epoch-bytes of 64-byte lines of a --mib heap buffer every --epoch-ms, for --seconds.\n");
    return 0;
  }
  const unsigned long mib = arg(argc, argv, "--mib", 256), epoch_bytes = arg(argc, argv, "--epoch-bytes", 1 << 20),
                      epoch_ms = arg(argc, argv, "--epoch-ms", 10), seconds = arg(argc, argv, "--seconds", 2),
                      settle_ms = arg(argc, argv, "--settle-ms", 500);
  const char *pattern = sarg(argc, argv, "--pattern", "dense");
  const int sparse = strcmp(pattern, "sparse") == 0;
  if ((!sparse && strcmp(pattern, "dense") != 0) || mib == 0 || epoch_ms == 0 || epoch_bytes < 64 ||
      epoch_bytes > (mib << 20)) {
    fprintf(stderr, "pause_dirtier: bad arguments (try --help)\n");
    return 2;
  }
  const uint64_t lines = (uint64_t)(mib << 20) / 64, per_epoch = epoch_bytes / 64;
  const uint64_t stride = sparse ? lines / per_epoch : 1;
  uint64_t *buf = malloc(lines * 64);
  if (buf == NULL) {
    fprintf(stderr, "pause_dirtier: out of memory\n");
    return 1;
  }
  /* Populate every page with non-zero bytes, so that the first epoch after
   * this dirties (and the runtime's line differ shadows) the whole buffer: the
   * pattern's epochs then pay dirty tracking and diffing in steady state, not
   * first-touch page allocation here or in the shadow. Then wait a moment,
   * parked in nanosleep, so that big epoch is usually captured before the
   * pattern starts (bench_pause skips it and the epoch after it anyway). */
  memset(buf, 1, lines * 64);
  const struct timespec settle = {(time_t)(settle_ms / 1000), (long)(settle_ms % 1000) * 1000000L};
  nanosleep(&settle, NULL);
  setvbuf(stdout, NULL, _IOLBF, 0);
  printf("pause_dirtier: steady_unix_ns=%.0f\n", now_s(CLOCK_REALTIME) * 1e9);

  const double rate = (double)per_epoch / ((double)epoch_ms / 1000.0); /* lines per second */
  const double t0 = now_s(CLOCK_MONOTONIC), end = t0 + (double)seconds;
  uint64_t done = 0, skipped = 0, value = 1, k = 0, phase = 0;
  const struct timespec tick = {0, 1000000};
  for (double t = t0; t < end; t = now_s(CLOCK_MONOTONIC)) {
    const uint64_t target = (uint64_t)((t - t0) * rate);
    if (target > done + per_epoch) {
      skipped += target - per_epoch - done;
      done = target - per_epoch;
    }
    for (; done < target; ++done, ++value) {
      uint64_t line;
      if (sparse) {
        /* k-th line of the current pass; each pass starts one line later. */
        line = k * stride + phase;
        if (++k == per_epoch) {
          k = 0;
          phase = (phase + 1) % stride;
        }
      } else {
        line = done % lines;
      }
      uint64_t *p = buf + line * 8;
      if (sparse) {
        p[0] = value;
      } else {
        for (int w = 0; w < 8; ++w) p[w] = value;
      }
    }
    nanosleep(&tick, NULL);
  }
  printf("pause_dirtier: lines=%llu skipped=%llu ok\n", (unsigned long long)(done - skipped),
         (unsigned long long)skipped);
  /* No free(buf): the exit checkpoint would diff the whole released range
   * (see README), and this program only measures the steady state. */
  return 0;
}
