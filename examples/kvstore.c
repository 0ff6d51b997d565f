/* kvstore: a multithreaded in-memory hash map. A generator thread turns a
 * seeded operation stream into work items on per-worker queues (mutex +
 * condvars); worker threads apply puts and deletes under per-bucket rwlocks,
 * allocating and freeing keys' values with malloc; reader threads do lookups
 * under read locks and verify every value they see.
 *
 * Key k always goes to worker k % workers, so each key sees its operations in
 * stream order and the final map is the same for every run with the same
 * options. At the end the map is checked against a single-threaded replay of
 * the stream and its digest printed: "kvstore: digest=<hex> ops=<n> ok".
 * Exit 3 on a corrupted value or a map that disagrees with the replay. */
#include <pthread.h>
#include <unistd.h>

#include "common.h"

enum op_kind { OP_PUT, OP_DEL, OP_GET };

struct op {
  unsigned long index;
  uint64_t key;
  enum op_kind kind;
};

struct node {
  struct node *next;
  uint64_t key, version;
  size_t len;
  unsigned char *value; /* len bytes, derived from (key, version) */
};

struct bucket {
  pthread_rwlock_t lock;
  struct node *head;
};

struct work_queue {
  pthread_mutex_t lock;
  pthread_cond_t not_empty, not_full;
  struct op *ops;
  unsigned long cap, head, count;
  int closed;
};

static unsigned long n_ops = 300000, n_keys = 5000, n_workers = 2, n_readers = 1, n_buckets = 1024, seed = 3,
                     report_ms = 500;
static struct bucket *table;
static struct work_queue *queues;
static unsigned long *applied; /* per worker: ops applied, only goes forward */
static volatile int readers_running;
static unsigned long reads_ok;

static struct op op_at(unsigned long i) {
  uint64_t s = seed * 0x9e3779b97f4a7c15ull + i;
  uint64_t r = ex_next(&s);
  struct op o = {i, r % n_keys, OP_GET};
  unsigned roll = (unsigned)((r >> 32) % 10);
  o.kind = roll < 7 ? OP_PUT : roll < 8 ? OP_DEL : OP_GET;
  return o;
}

static void fill_value(unsigned char *v, size_t len, uint64_t key, uint64_t version) {
  uint64_t s = key * 31 + version;
  for (size_t i = 0; i < len; ++i) v[i] = (unsigned char)ex_next(&s);
}

static size_t value_len(uint64_t key, uint64_t version) { return 8 + (size_t)((key * 7 + version) % 200); }

static int value_ok(const struct node *n) {
  unsigned char tmp[256];
  if (n->len != value_len(n->key, n->version)) return 0;
  fill_value(tmp, n->len, n->key, n->version);
  return memcmp(tmp, n->value, n->len) == 0;
}

static struct bucket *bucket_of(uint64_t key) { return &table[(key * 0x9e3779b97f4a7c15ull >> 32) % n_buckets]; }

static void apply_op(const struct op *o) {
  struct bucket *b = bucket_of(o->key);
  if (o->kind == OP_GET) {
    pthread_rwlock_rdlock(&b->lock);
    for (struct node *n = b->head; n != NULL; n = n->next)
      if (n->key == o->key && !value_ok(n)) {
        fprintf(stderr, "kvstore: CORRUPTED value of key %llu\n", (unsigned long long)n->key);
        exit(3);
      }
    pthread_rwlock_unlock(&b->lock);
    return;
  }
  pthread_rwlock_wrlock(&b->lock);
  struct node **link = &b->head;
  while (*link != NULL && (*link)->key != o->key) link = &(*link)->next;
  if (o->kind == OP_DEL) {
    if (*link != NULL) {
      struct node *dead = *link;
      *link = dead->next;
      free(dead->value);
      free(dead);
    }
  } else {
    struct node *n = *link;
    if (n == NULL) {
      n = calloc(1, sizeof *n);
      n->key = o->key;
      n->next = b->head;
      b->head = n;
    }
    free(n->value);
    n->version = o->index;
    n->len = value_len(o->key, o->index);
    n->value = malloc(n->len);
    fill_value(n->value, n->len, o->key, o->index);
  }
  pthread_rwlock_unlock(&b->lock);
}

static void *run_worker(void *arg) {
  unsigned long w = (unsigned long)(uintptr_t)arg;
  struct work_queue *q = &queues[w];
  for (;;) {
    pthread_mutex_lock(&q->lock);
    while (q->count == 0 && !q->closed) pthread_cond_wait(&q->not_empty, &q->lock);
    if (q->count == 0 && q->closed) {
      pthread_mutex_unlock(&q->lock);
      return NULL;
    }
    struct op o = q->ops[q->head];
    q->head = (q->head + 1) % q->cap;
    q->count--;
    pthread_cond_signal(&q->not_full);
    pthread_mutex_unlock(&q->lock);
    apply_op(&o);
    pthread_mutex_lock(&q->lock);
    applied[w]++;
    pthread_mutex_unlock(&q->lock);
  }
}

static void *run_reader(void *arg) {
  uint64_t s = (uint64_t)(uintptr_t)arg + seed;
  while (readers_running) {
    struct op o = {0, ex_next(&s) % n_keys, OP_GET};
    apply_op(&o);
    reads_ok++;
  }
  return NULL;
}

/* The generator's position survives in `generated`, so a resumed run goes on
 * where the checkpoint left it. */
static unsigned long generated;

static void *run_generator(void *arg) {
  (void)arg;
  while (generated < n_ops) {
    struct op o = op_at(generated);
    struct work_queue *q = &queues[o.key % n_workers];
    pthread_mutex_lock(&q->lock);
    while (q->count == q->cap) pthread_cond_wait(&q->not_full, &q->lock);
    q->ops[(q->head + q->count) % q->cap] = o;
    q->count++;
    generated++;
    pthread_cond_signal(&q->not_empty);
    pthread_mutex_unlock(&q->lock);
  }
  for (unsigned long w = 0; w < n_workers; ++w) {
    pthread_mutex_lock(&queues[w].lock);
    queues[w].closed = 1;
    pthread_cond_broadcast(&queues[w].not_empty);
    pthread_mutex_unlock(&queues[w].lock);
  }
  return NULL;
}

static unsigned long applied_total(void) {
  unsigned long t = 0;
  for (unsigned long w = 0; w < n_workers; ++w) {
    pthread_mutex_lock(&queues[w].lock);
    t += applied[w];
    pthread_mutex_unlock(&queues[w].lock);
  }
  return t;
}

int main(int argc, char **argv) {
  struct ex_opt opts[] = {
      {"ops", &n_ops, "operations in the stream"},
      {"keys", &n_keys, "distinct keys"},
      {"workers", &n_workers, "writer threads"},
      {"readers", &n_readers, "reader threads"},
      {"buckets", &n_buckets, "hash buckets (one rwlock each)"},
      {"seed", &seed, "seed of the operation stream"},
      {"report-ms", &report_ms, "progress line interval"},
  };
  if (ex_parse(argc, argv, opts, sizeof opts / sizeof opts[0],
               "usage: kvstore [options]\nA hash map under per-bucket rwlocks fed through condvar work queues; "
               "checks the final map against a single-threaded replay.") != 0)
    return 2;
  if (n_keys < 1 || n_workers < 1 || n_buckets < 1) {
    fprintf(stderr, "kvstore: need at least 1 key, 1 worker and 1 bucket\n");
    return 2;
  }
  setvbuf(stdout, NULL, _IOLBF, 0);
  table = calloc(n_buckets, sizeof *table);
  for (unsigned long i = 0; i < n_buckets; ++i) pthread_rwlock_init(&table[i].lock, NULL);
  queues = calloc(n_workers, sizeof *queues);
  applied = calloc(n_workers, sizeof *applied);
  for (unsigned long w = 0; w < n_workers; ++w) {
    pthread_mutex_init(&queues[w].lock, NULL);
    pthread_cond_init(&queues[w].not_empty, NULL);
    pthread_cond_init(&queues[w].not_full, NULL);
    queues[w].cap = 256;
    queues[w].ops = calloc(queues[w].cap, sizeof(struct op));
  }
  pthread_t gen, *workers = calloc(n_workers, sizeof *workers), *readers = calloc(n_readers + 1, sizeof *readers);
  readers_running = 1;
  for (unsigned long w = 0; w < n_workers; ++w) pthread_create(&workers[w], NULL, run_worker, (void *)(uintptr_t)w);
  for (unsigned long r = 0; r < n_readers; ++r) pthread_create(&readers[r], NULL, run_reader, (void *)(uintptr_t)r);
  pthread_create(&gen, NULL, run_generator, NULL);
  double next_report = ex_now() + (double)report_ms / 1000.0;
  for (;;) {
    unsigned long done = applied_total();
    if (done >= n_ops) break;
    if (ex_now() >= next_report) {
      printf("kvstore: progress ops=%lu reads=%lu\n", done, reads_ok);
      next_report = ex_now() + (double)report_ms / 1000.0;
    }
    usleep(2000);
  }
  pthread_join(gen, NULL);
  for (unsigned long w = 0; w < n_workers; ++w) pthread_join(workers[w], NULL);
  readers_running = 0;
  for (unsigned long r = 0; r < n_readers; ++r) pthread_join(readers[r], NULL);

  /* Replay the stream on one thread: the last put of each key not followed by a delete. */
  uint64_t *version = calloc(n_keys, sizeof *version);
  unsigned char *present = calloc(n_keys, 1);
  for (unsigned long i = 0; i < n_ops; ++i) {
    struct op o = op_at(i);
    if (o.kind == OP_PUT) version[o.key] = i, present[o.key] = 1;
    if (o.kind == OP_DEL) present[o.key] = 0;
  }
  uint64_t digest = 0;
  unsigned long live = 0;
  for (uint64_t k = 0; k < n_keys; ++k) {
    struct bucket *b = bucket_of(k);
    struct node *n = b->head;
    while (n != NULL && n->key != k) n = n->next;
    if ((n != NULL) != (present[k] != 0) || (n != NULL && (n->version != version[k] || !value_ok(n)))) {
      fprintf(stderr, "kvstore: MAP DISAGREES with the replay at key %llu\n", (unsigned long long)k);
      return 3;
    }
    if (n != NULL) {
      live++;
      digest = ex_fnv(digest, &n->key, sizeof n->key);
      digest = ex_fnv(digest, &n->version, sizeof n->version);
      digest = ex_fnv(digest, n->value, n->len);
    }
  }
  printf("kvstore: digest=%016llx ops=%lu live=%lu ok\n", (unsigned long long)digest, applied_total(), live);
  return 0;
}
