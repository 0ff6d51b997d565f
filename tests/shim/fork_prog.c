/* fork_prog: an ordinary C program that forks while another thread is
 * allocating. The child checks it inherited the parent's heap, changes it,
 * allocates and frees more, takes a mutex and exits 0; the parent checks its
 * own copy is untouched and that it can still allocate, then prints
 * "fork_prog: ok". Any failure prints what broke and exits non-zero. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

enum { kBlocks = 256, kBlockSize = 16384, kChildBlocks = 1024 };

static unsigned char *blocks[kBlocks];
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static volatile int churning = 1;

static unsigned char pattern(size_t block, size_t i) { return (unsigned char)(block * 31 + i * 7 + 1); }

static int verify(const char *who) {
  for (size_t b = 0; b < kBlocks; ++b)
    for (size_t i = 0; i < kBlockSize; ++i)
      if (blocks[b][i] != pattern(b, i)) {
        fprintf(stderr, "fork_prog: %s: block %zu byte %zu is %u, expected %u\n", who, b, i, blocks[b][i],
                pattern(b, i));
        return 0;
      }
  return 1;
}

/* Keeps the allocator busy in the parent while it forks: the child must not
 * inherit a heap lock held by a thread that does not exist in it. */
static void *churn(void *arg) {
  (void)arg;
  while (churning) {
    void *p[64];
    for (int i = 0; i < 64; ++i) p[i] = malloc((size_t)(16 + i * 48));
    for (int i = 0; i < 64; ++i) free(p[i]);
  }
  return NULL;
}

static int child(void) {
  if (!verify("child, inherited heap")) return 10;
  for (size_t b = 0; b < kBlocks; ++b) memset(blocks[b], 0xee, kBlockSize);
  unsigned char *more[kChildBlocks];
  for (size_t i = 0; i < kChildBlocks; ++i) {
    more[i] = malloc(1000 + i);
    if (more[i] == NULL) return 11;
    memset(more[i], (int)i, 1000 + i);
  }
  for (size_t i = 0; i < kChildBlocks; ++i) {
    if (more[i][999 + i] != (unsigned char)i) return 12;
    free(more[i]);
  }
  unsigned char *big = realloc(blocks[0], 1 << 20);
  if (big == NULL || big[0] != 0xee) return 13;
  free(big);
  pthread_mutex_lock(&mu);
  pthread_mutex_unlock(&mu);
  return 0;
}

int main(void) {
  for (size_t b = 0; b < kBlocks; ++b) {
    blocks[b] = malloc(kBlockSize);
    if (blocks[b] == NULL) return 1;
    for (size_t i = 0; i < kBlockSize; ++i) blocks[b][i] = pattern(b, i);
  }
  pthread_t churner;
  if (pthread_create(&churner, NULL, churn, NULL) != 0) return 1;
  usleep(20000); /* the churner is mid-loop when fork happens */
  pid_t pid = fork();
  if (pid < 0) {
    perror("fork_prog: fork");
    return 1;
  }
  if (pid == 0) exit(child()); /* exit, not _exit: the child runs the atexit handlers it inherited */
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) {
    perror("fork_prog: waitpid");
    return 1;
  }
  churning = 0;
  pthread_join(churner, NULL);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    fprintf(stderr, "fork_prog: child failed: %s %d\n", WIFEXITED(status) ? "exit" : "signal",
            WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
    return 2;
  }
  if (!verify("parent, after the child changed its copy")) return 3;
  void *p = malloc(1 << 20);
  if (p == NULL) return 4;
  free(p);
  printf("fork_prog: ok\n");
  return 0;
}
