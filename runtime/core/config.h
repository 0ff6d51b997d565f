// RuntimeConfig: everything the shim can be told, read once from RESPCT_*
// environment variables (respct-run sets them from its flags).
//
// | variable             | meaning                                         | default                   |
// |----------------------|-------------------------------------------------|---------------------------|
// | RESPCT_MEMNODE       | memnode URL (shm://, tcp://, rdma://); several, | DefaultMemnodeUrl()       |
// |                      | comma-separated: replicas (replica_set.h)       |                           |
// | RESPCT_COMMIT_QUORUM | replicas an epoch needs: majority or all        | majority                  |
// | RESPCT_APP           | application name on the memnode                 | basename of the program   |
// | RESPCT_SECRET_FILE   | shared secret for the memnode                   | DefaultSecretPath()       |
// | RESPCT_EPOCH_MS      | checkpoint interval, ms                         | 10                        |
// | RESPCT_QUIESCE_MS    | give up a checkpoint attempt after, ms          | max(20, 2 × epoch)        |
// | RESPCT_TRACKER       | dirty tracking: auto, uffd, mprotect, scan      | auto                      |
// | RESPCT_GRANULARITY   | what is shipped: line (64 B), page, or full     | line                      |
// | RESPCT_STATS         | statistics at exit and on SIGUSR2: off/text/json| off                       |
// | RESPCT_STATS_FILE    | where statistics go                             | standard error            |
// | RESPCT_FRESH         | 1: discard an existing image of the app         | 0 (refuse to overwrite)   |
// | RESPCT_RING_SIZE     | memnode log ring asked for when the app is made | 256M (bounds one epoch)   |
// | RESPCT_BASE          | base address of the persisted regions (hex)     | 0x200000000000            |
// | RESPCT_HEAP_SIZE     | heap region size (K/M/G suffixes)               | 1G                        |
// | RESPCT_STACK_SIZE    | stack size of each thread slot                  | 2M                        |
// | RESPCT_MAX_THREADS   | thread slots (threads alive at once)            | 64                        |
// | RESPCT_DUMP_DIR      | at exit, write the final epoch's regions there  | unset (tests)             |
// | RESPCT_RECOVER       | recovery image to resume (set by respct-recover)| unset                     |
// | RESPCT_TAKE_OVER     | 1: the recovery fences a writer still attached  | 0 (busy: refuse)          |
// | RESPCT_LOG           | shim log level: error, warn, info, debug        | warn                      |
// | RESPCT_DISABLE       | 1: pass everything to libc, persist nothing     | 0                         |
#pragma once

#include <cstdint>
#include <string>

#include "runtime/base/status.h"
#include "runtime/core/layout.h"
#include "runtime/transport/replica_set.h"

namespace respct::core {

enum class StatsFormat { kOff, kText, kJson };

// What an epoch ships: the changed 64-byte lines, each dirty page whole, or
// every tracked page whether written or not (a full image each epoch: the
// baseline that shows what incremental shipping saves).
enum class Granularity { kLine, kPage, kFull };
const char* GranularityName(Granularity g);

struct RuntimeConfig {
  std::string memnode;   // as given: one URL or a comma-separated list
  ReplicaSet replicas;   // parsed from it
  std::string app;
  std::string secret_file;
  int epoch_ms = 10;
  int quiesce_ms = 0;
  std::string tracker = "auto";
  Granularity granularity = Granularity::kLine;
  // Output commit (RESPCT_OUTPUT_COMMIT=on|off): bytes sent towards other
  // processes are held until the epoch that produced them is committed
  // (runtime/core/held_output.h).
  bool output_commit = true;
  StatsFormat stats = StatsFormat::kOff;
  std::string stats_file;
  bool fresh = false;
  bool take_over = false;  // RESPCT_TAKE_OVER=1 (respct-recover --take-over)
  uint64_t ring_size = 256ull << 20;
  Layout layout;
  std::string dump_dir;
  // Recovery image written by respct-recover: resume it instead of starting
  // main. The layout then comes from the image, not from the variables.
  std::string recover_image;
  // Resume without what the image holds that respct cannot recreate
  // (RESPCT_DROP_UNRESTORABLE=1) instead of refusing.
  bool drop_unrestorable = false;
  // Test hook (RESPCT_TEST_DELAY_SLOT=I:MS): a recovery sleeps MS ms before
  // recreating thread slot I, so a test can check that no thread runs before
  // all are back. -1: none.
  int test_delay_slot = -1;
  int test_delay_ms = 0;
  // Test hook (RESPCT_TEST_KILL_AT_EXIT=1): the process kills itself with
  // SIGKILL once its final checkpoint is committed, before glibc's own
  // exit-time cleanup, so a test can see what that image promises.
  bool test_kill_at_exit = false;
  int log_level = 1;  // 0 error, 1 warn, 2 info, 3 debug
  bool disabled = false;
};

// Reads the RESPCT_* variables. `program` is the executable's path (for the
// default app name). Invalid values are an InvalidArgument naming the variable.
Result<RuntimeConfig> LoadRuntimeConfig(const std::string& program);

// "64M", "1G", "4096" → bytes.
Result<uint64_t> ParseSize(const std::string& text);

}  // namespace respct::core
