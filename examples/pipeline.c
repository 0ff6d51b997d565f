/* pipeline: items flow source -> transform -> transform -> sink through
 * bounded queues guarded by a mutex and two condition variables each. Every
 * stage keeps a running digest of what passed through it; the sink's digest
 * is checked at the end against one recomputed from scratch on one thread.
 * The queues are FIFO and each stage is one thread, so the outcome is the same
 * for every run with the same options, killed-and-resumed runs included.
 *
 * Output: "pipeline: progress items=..." lines, then
 * "pipeline: digest=<hex> items=<n> ok". Exit 3 when a stage's digest or
 * count disagrees with the recomputation. */
#include <pthread.h>
#include <unistd.h>

#include "common.h"

struct item {
  uint64_t seq;
  uint64_t value;
  unsigned char payload[48];
};

struct queue {
  pthread_mutex_t lock;
  pthread_cond_t not_empty, not_full;
  struct item **slots;
  unsigned long cap, head, count;
};

struct stage {
  pthread_t thread;
  struct queue *in, *out;
  unsigned rounds;     /* transform strength */
  uint64_t digest;     /* of items passed through */
  unsigned long count; /* items passed through: only goes forward */
};

static unsigned long n_items = 200000, queue_cap = 64, seed = 7, report_ms = 500, n_stages = 2;
static struct stage *stages; /* [0] source, [1..n_stages] transforms, [n_stages+1] sink */

static void queue_init(struct queue *q, unsigned long cap) {
  pthread_mutex_init(&q->lock, NULL);
  pthread_cond_init(&q->not_empty, NULL);
  pthread_cond_init(&q->not_full, NULL);
  q->slots = calloc(cap, sizeof *q->slots);
  q->cap = cap;
  q->head = q->count = 0;
}

static void queue_push(struct queue *q, struct item *it) {
  pthread_mutex_lock(&q->lock);
  while (q->count == q->cap) pthread_cond_wait(&q->not_full, &q->lock);
  q->slots[(q->head + q->count) % q->cap] = it;
  q->count++;
  pthread_cond_signal(&q->not_empty);
  pthread_mutex_unlock(&q->lock);
}

static struct item *queue_pop(struct queue *q) {
  pthread_mutex_lock(&q->lock);
  while (q->count == 0) pthread_cond_wait(&q->not_empty, &q->lock);
  struct item *it = q->slots[q->head];
  q->head = (q->head + 1) % q->cap;
  q->count--;
  pthread_cond_signal(&q->not_full);
  pthread_mutex_unlock(&q->lock);
  return it;
}

static void transform(struct item *it, unsigned rounds) {
  for (unsigned r = 0; r < rounds; ++r) {
    uint64_t s = it->value;
    it->value = ex_next(&s);
    for (size_t i = 0; i < sizeof it->payload; ++i) it->payload[i] ^= (unsigned char)(it->value >> (i % 8 * 8));
  }
}

static uint64_t digest_item(uint64_t h, const struct item *it) { return ex_fnv(h, it, sizeof *it); }

static struct item *make_item(uint64_t seq) {
  struct item *it = malloc(sizeof *it);
  uint64_t s = seed ^ (seq * 0x2545f4914f6cdd1dull);
  it->seq = seq;
  it->value = ex_next(&s);
  for (size_t i = 0; i < sizeof it->payload; ++i) it->payload[i] = (unsigned char)ex_next(&s);
  return it;
}

static void *run_source(void *arg) {
  struct stage *st = (struct stage *)arg;
  while (st->count < n_items) {
    struct item *it = make_item(st->count);
    st->digest = digest_item(st->digest, it);
    st->count++;
    queue_push(st->out, it);
  }
  return NULL;
}

static void *run_transform(void *arg) {
  struct stage *st = (struct stage *)arg;
  while (st->count < n_items) {
    struct item *it = queue_pop(st->in);
    transform(it, st->rounds);
    st->digest = digest_item(st->digest, it);
    st->count++;
    queue_push(st->out, it);
  }
  return NULL;
}

static void *run_sink(void *arg) {
  struct stage *st = (struct stage *)arg;
  while (st->count < n_items) {
    struct item *it = queue_pop(st->in);
    if (it->seq != st->count) {
      fprintf(stderr, "pipeline: ORDER BROKEN: got item %llu, expected %lu\n", (unsigned long long)it->seq, st->count);
      exit(3);
    }
    st->digest = digest_item(st->digest, it);
    st->count++;
    free(it);
  }
  return NULL;
}

int main(int argc, char **argv) {
  struct ex_opt opts[] = {
      {"items", &n_items, "items pushed through the pipeline"},
      {"stages", &n_stages, "transform stages between source and sink"},
      {"queue", &queue_cap, "capacity of each bounded queue"},
      {"seed", &seed, "seed of the item contents"},
      {"report-ms", &report_ms, "progress line interval"},
  };
  if (ex_parse(argc, argv, opts, sizeof opts / sizeof opts[0],
               "usage: pipeline [options]\nProducer/consumer stages over condvar-protected bounded queues; checks "
               "the sink's digest against a single-threaded recomputation.") != 0)
    return 2;
  if (n_stages < 1 || queue_cap < 1) {
    fprintf(stderr, "pipeline: need at least 1 stage and a queue of 1\n");
    return 2;
  }
  setvbuf(stdout, NULL, _IOLBF, 0);
  const unsigned long n = n_stages + 2;
  stages = calloc(n, sizeof *stages);
  struct queue *queues = calloc(n - 1, sizeof *queues);
  for (unsigned long i = 0; i + 1 < n; ++i) queue_init(&queues[i], queue_cap);
  for (unsigned long i = 0; i < n; ++i) {
    stages[i].in = i > 0 ? &queues[i - 1] : NULL;
    stages[i].out = i + 1 < n ? &queues[i] : NULL;
    stages[i].rounds = (unsigned)(i + 1);
  }
  pthread_create(&stages[0].thread, NULL, run_source, &stages[0]);
  for (unsigned long i = 1; i + 1 < n; ++i) pthread_create(&stages[i].thread, NULL, run_transform, &stages[i]);
  pthread_create(&stages[n - 1].thread, NULL, run_sink, &stages[n - 1]);
  double next_report = ex_now() + (double)report_ms / 1000.0;
  while (stages[n - 1].count < n_items) {
    if (ex_now() >= next_report) {
      printf("pipeline: progress items=%lu\n", stages[n - 1].count);
      next_report = ex_now() + (double)report_ms / 1000.0;
    }
    usleep(2000);
  }
  for (unsigned long i = 0; i < n; ++i) pthread_join(stages[i].thread, NULL);

  /* Recompute every stage's digest on this thread alone. */
  for (unsigned long i = 0; i < n; ++i) {
    uint64_t expect = 0;
    for (unsigned long k = 0; k < n_items; ++k) {
      struct item *it = make_item(k);
      for (unsigned long j = 1; j <= i && j + 1 < n; ++j) transform(it, stages[j].rounds);
      expect = digest_item(expect, it);
      free(it);
    }
    if (expect != stages[i].digest || stages[i].count != n_items) {
      fprintf(stderr, "pipeline: DIGEST MISMATCH at stage %lu\n", i);
      return 3;
    }
  }
  printf("pipeline: digest=%016llx items=%lu ok\n", (unsigned long long)stages[n - 1].digest, stages[n - 1].count);
  return 0;
}
