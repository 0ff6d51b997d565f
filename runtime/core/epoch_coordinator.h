// EpochCoordinator: brings every application thread to a restart point (no
// application lock held), lets a CheckpointClient capture the process while
// they stay there, and releases them — or gives up after a bound, so a
// checkpoint never deadlocks the application.
//
// One round, generation G (g_generation only changes when a round ends):
//   1. request := epoch. Threads passing a depth-0 boundary see it (one
//      relaxed load on their fast path) and park on their fiber.
//   2. The coordinator scans the thread table: kStarting/kBlocked slots are
//      CAS'd to kFrozenStarting/kFrozen (their owner waits if it wakes);
//      kRunning threads get the stop signal (re-sent every millisecond),
//      whose handler parks them if they are at depth 0 in application code.
//   3. When every slot is quiescent — free, exited, frozen, or parked in
//      round G — the client captures (collect dirty lines, stage them).
//      Past the quiescence bound the round is abandoned instead.
//   4. Release: request := 0, frozen slots thawed, G+1, futex wake. A parked
//      thread wakes on the generation change and marks itself running.
// The park generation in each slot's control word is what stops a thread
// that parked in round G-1 and has not yet woken from being counted in G.
//
// Thread-side functions (ParkIfRequested, RunBlocking, the signal handler)
// are async-signal-safe; the coordinator's own functions are not.
#pragma once

#include <atomic>
#include <cstdint>
#include <thread>

#include "runtime/base/status.h"
#include "runtime/core/park_fiber.h"
#include "runtime/core/thread_table.h"

namespace respct::core {

class ThreadRegistry;

struct RoundResult {
  enum Outcome { kCaptured, kAbandoned } outcome;
  uint64_t pause_ns;     // request to release (threads told to go)
  uint64_t quiesce_ns;   // request to quiescence (or to giving up)
  uint32_t signals_sent;
};

// What the coordinator does with a quiescent process. Called on the
// coordinator thread.
class CheckpointClient {
 public:
  virtual ~CheckpointClient() = default;
  // False while the previous epoch is still being shipped (one in flight).
  virtual bool ReadyForCheckpoint() = 0;
  // Every thread is parked: capture epoch `epoch`. Must not wait for any
  // application thread and must not take a lock an application thread could
  // hold (stdio included). False: nothing captured, the round is abandoned.
  virtual bool CaptureQuiescent(uint64_t epoch) = 0;
  // Threads run again; hand the captured epoch on (to be shipped).
  virtual void AfterRelease(uint64_t epoch, const RoundResult& round) = 0;
  // A round gave up (quiescence not reached, or the capture declined).
  virtual void Abandoned(uint64_t epoch, const RoundResult& round) { (void)epoch, (void)round; }
};

struct CoordinatorOptions {
  int epoch_ms = 10;          // interval between checkpoint attempts
  int quiesce_timeout_ms = 0; // 0: max(50, 5 × epoch_ms)
  int stop_signal = 0;        // 0: SIGRTMIN + 6
  // Whether a thread stopped at `pc` may park there (the runtime refuses
  // libc/ld.so/its own code). Null: anywhere. Async-signal-safe.
  bool (*pc_allowed)(uintptr_t pc) = nullptr;
  // Called on the coordinator thread once per interval (statistics on demand).
  void (*on_tick)() = nullptr;
};

class EpochCoordinator {
 public:
  EpochCoordinator(ThreadRegistry* registry, CheckpointClient* client, const CoordinatorOptions& options);
  ~EpochCoordinator();

  // Installs the stop-signal handler and the global instance used by the
  // thread-side functions. One coordinator per process.
  Status Install();
  // Starts the periodic thread, first epoch `first_epoch`.
  Status Start(uint64_t first_epoch);
  // Stops the periodic thread (joins it). Idempotent.
  void Stop();
  // Runs one round now on the calling thread (tests; the exit path). A
  // registered application thread calling it must first take its own slot out
  // of the round (the exit path marks it kSlotExited), or the round waits for
  // it in vain and is abandoned.
  RoundResult RunRound(uint64_t epoch);

  uint64_t next_epoch() const { return next_epoch_.load(std::memory_order_relaxed); }
  const CoordinatorOptions& options() const { return options_; }
  int stop_signal() const { return stop_signal_; }

  // ---- thread side ----
  // Fast path at a depth-0 boundary.
  static inline bool CheckpointRequested() { return g_request.load(std::memory_order_relaxed) != 0; }
  // Parks the calling thread if a round is in progress and it may park.
  static void ParkIfRequested(ParkKind kind);
  // Runs `req->fn` on the thread's fiber with the slot in kBlocked; returns
  // false when the thread was resumed by a recovery instead (the operation
  // did not complete in this process: re-issue it or report a spurious wake).
  static bool RunBlocking(FiberRequest* req);
  // Called on the fiber by park_fiber.cc.
  static void ServeOnFiber(FiberRequest* req);
  // Thread start: kStarting → kRunning, waiting while a round has it frozen.
  static void EnterRunning(ThreadSlot* slot);
  // The sync layer's hook for a futex sleep at depth 0: the sleep runs on the
  // fiber with the thread quiescent. Returns what FutexWait returns, or EINTR
  // when the thread was resumed by a recovery (callers re-check and retry).
  static int BlockingFutexWait(uint32_t* word, uint32_t expected, bool process_shared, const timespec* abstime,
                               clockid_t clock);

 private:
  void Loop();
  bool ScanQuiescent(uint64_t gen, uint32_t* signals_sent);
  // Ends a round; returns when (CLOCK_MONOTONIC ns) the threads were let go.
  uint64_t Release();

  static std::atomic<uint64_t> g_request;     // epoch being captured, 0: none
  static std::atomic<uint32_t> g_generation;  // round counter (futex word)
  static std::atomic<uint32_t> g_park_events; // bumped by each park (futex word)

  ThreadRegistry* registry_;
  CheckpointClient* client_;
  CoordinatorOptions options_;
  int stop_signal_ = 0;
  int quiesce_timeout_ms_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<uint64_t> next_epoch_{1};
  std::thread thread_;
  std::atomic<uint32_t> stop_word_{0};
};

}  // namespace respct::core
