/* bank: N threads transfer money between accounts, each account under its own
 * mutex (taken in account order, so no deadlock); a checker thread locks every
 * account every few ms and verifies the total never changes.
 *
 * Deterministic outcome: thread t's k-th transfer is a function of (seed, t, k)
 * only and transfers are unconditional, so the final balances, and the digest
 * printed at the end, do not depend on how threads interleave. A run that was
 * killed and resumed must print the same digest as an undisturbed one.
 *
 * Output: progress lines "bank: progress transfers=... checks=..." every
 * --report-ms, then "bank: digest=<hex> transfers=<n> checks=<n> ok".
 * Exit status 3 if the checker ever sees a wrong total. */
#include <pthread.h>
#include <unistd.h>

#include "common.h"

struct account {
  pthread_mutex_t lock;
  long balance;
};

struct worker {
  pthread_t thread;
  unsigned id;
  unsigned long done; /* transfers completed: only goes forward */
};

static struct account *accounts;
static struct worker *workers;
static unsigned long n_accounts = 1000, n_threads = 4, n_transfers = 200000, seed = 1, report_ms = 500,
                     check_ms = 5, work_ns = 0;
static long total_expected;
static volatile int workers_running;
static unsigned long checks_done;
static pthread_mutex_t progress_lock = PTHREAD_MUTEX_INITIALIZER;

static void busy(unsigned long ns) {
  if (ns == 0) return;
  double until = ex_now() + (double)ns / 1e9;
  while (ex_now() < until) {
  }
}

static void *transfer_loop(void *arg) {
  struct worker *w = (struct worker *)arg;
  while (w->done < n_transfers) {
    uint64_t s = seed * 0x100000001b3ull ^ ((uint64_t)w->id << 40) ^ w->done;
    uint64_t r = ex_next(&s);
    unsigned a = (unsigned)(r % n_accounts), b = (unsigned)((r >> 20) % n_accounts);
    if (a == b) b = (b + 1) % (unsigned)n_accounts;
    long amount = (long)(ex_next(&s) % 100) + 1;
    unsigned lo = a < b ? a : b, hi = a < b ? b : a;
    pthread_mutex_lock(&accounts[lo].lock);
    pthread_mutex_lock(&accounts[hi].lock);
    accounts[a].balance -= amount;
    busy(work_ns);
    accounts[b].balance += amount;
    pthread_mutex_unlock(&accounts[hi].lock);
    pthread_mutex_unlock(&accounts[lo].lock);
    pthread_mutex_lock(&progress_lock);
    w->done++;
    pthread_mutex_unlock(&progress_lock);
  }
  return NULL;
}

static long locked_total(void) {
  for (unsigned long i = 0; i < n_accounts; ++i) pthread_mutex_lock(&accounts[i].lock);
  long sum = 0;
  for (unsigned long i = 0; i < n_accounts; ++i) sum += accounts[i].balance;
  for (unsigned long i = n_accounts; i-- > 0;) pthread_mutex_unlock(&accounts[i].lock);
  return sum;
}

static void *checker(void *arg) {
  (void)arg;
  while (workers_running) {
    long sum = locked_total();
    if (sum != total_expected) {
      fprintf(stderr, "bank: INVARIANT BROKEN: total %ld, expected %ld\n", sum, total_expected);
      exit(3);
    }
    checks_done++;
    usleep((useconds_t)(check_ms * 1000));
  }
  return NULL;
}

static unsigned long transfers_so_far(void) {
  unsigned long t = 0;
  pthread_mutex_lock(&progress_lock);
  for (unsigned long i = 0; i < n_threads; ++i) t += workers[i].done;
  pthread_mutex_unlock(&progress_lock);
  return t;
}

int main(int argc, char **argv) {
  struct ex_opt opts[] = {
      {"accounts", &n_accounts, "number of accounts"},
      {"threads", &n_threads, "transfer threads"},
      {"transfers", &n_transfers, "transfers per thread"},
      {"seed", &seed, "seed of the transfer sequence"},
      {"report-ms", &report_ms, "progress line interval"},
      {"check-ms", &check_ms, "checker interval"},
      {"work-ns", &work_ns, "busy work inside each transfer's critical section"},
  };
  if (ex_parse(argc, argv, opts, sizeof opts / sizeof opts[0],
               "usage: bank [options]\nConcurrent transfers under per-account mutexes; prints a digest of the final "
               "balances that is the same for every run with the same options.") != 0)
    return 2;
  if (n_accounts < 2 || n_threads < 1) {
    fprintf(stderr, "bank: need at least 2 accounts and 1 thread\n");
    return 2;
  }
  setvbuf(stdout, NULL, _IOLBF, 0);
  accounts = calloc(n_accounts, sizeof *accounts);
  workers = calloc(n_threads, sizeof *workers);
  if (accounts == NULL || workers == NULL) {
    fprintf(stderr, "bank: out of memory\n");
    return 1;
  }
  for (unsigned long i = 0; i < n_accounts; ++i) {
    pthread_mutex_init(&accounts[i].lock, NULL);
    accounts[i].balance = 1000;
    total_expected += 1000;
  }
  workers_running = 1;
  pthread_t check_thread;
  pthread_create(&check_thread, NULL, checker, NULL);
  for (unsigned long i = 0; i < n_threads; ++i) {
    workers[i].id = (unsigned)i;
    pthread_create(&workers[i].thread, NULL, transfer_loop, &workers[i]);
  }
  const unsigned long goal = n_threads * n_transfers;
  double next_report = ex_now() + (double)report_ms / 1000.0;
  for (;;) {
    unsigned long t = transfers_so_far();
    if (t >= goal) break;
    if (ex_now() >= next_report) {
      printf("bank: progress transfers=%lu checks=%lu\n", t, checks_done);
      next_report = ex_now() + (double)report_ms / 1000.0;
    }
    usleep(2000);
  }
  for (unsigned long i = 0; i < n_threads; ++i) pthread_join(workers[i].thread, NULL);
  workers_running = 0;
  pthread_join(check_thread, NULL);
  if (locked_total() != total_expected) {
    fprintf(stderr, "bank: INVARIANT BROKEN at the end\n");
    return 3;
  }
  uint64_t digest = 0;
  for (unsigned long i = 0; i < n_accounts; ++i) digest = ex_fnv(digest, &accounts[i].balance, sizeof(long));
  printf("bank: digest=%016llx transfers=%lu checks=%lu ok\n", (unsigned long long)digest, transfers_so_far(),
         checks_done);
  return 0;
}
