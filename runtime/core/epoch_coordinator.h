// EpochCoordinator: brings every application thread to a point where it can be
// resumed (restart_point.h says where and why), lets a CheckpointClient capture
// the process while they stay there, and releases them — or gives up after a
// bound, so a checkpoint never deadlocks the application.
//
// One round, generation G (round::g_generation only changes when a round ends):
//   1. request := epoch. Threads passing a boundary see it (one relaxed load
//      on their fast path) and park on their fiber.
//   2. The coordinator scans the thread table: kStarting/kBlocked slots are
//      CAS'd to kFrozenStarting/kFrozen (their owner waits if it wakes);
//      kRunning threads get the stop signal (re-sent every millisecond),
//      whose handler parks them where they stand if that is resumable.
//   3. When every slot is quiescent — free, exited, frozen, or parked in
//      round G — the client captures (collect dirty lines, stage them).
//      Past the quiescence bound the round is abandoned instead.
//   4. Release: request := 0, frozen slots thawed, G+1, futex wake. A parked
//      thread wakes on the generation change and marks itself running.
// The park generation in each slot's control word is what stops a thread
// that parked in round G-1 and has not yet woken from being counted in G.
//
// A round that cannot reach quiescence (a thread stuck where it may not park)
// costs the threads that did park at most the bound; after it the next
// attempts back off (2, 4, ... up to kMaxBackoffIntervals intervals), so a
// thread that never becomes reachable slows the application by about
// bound / (kMaxBackoffIntervals × interval). Each abandoned round names the
// first thread that held it up (RoundResult::straggler) for the stall report.
//
// The coordinator's own functions are not async-signal-safe; the thread side
// (restart_point.h) is.
#pragma once

#include <atomic>
#include <cstdint>
#include <thread>

#include "runtime/base/status.h"
#include "runtime/core/restart_point.h"
#include "runtime/core/thread_table.h"

namespace respct::core {

class ThreadRegistry;

// The thread that kept an abandoned round from quiescence.
struct Straggler {
  int32_t slot = -1;            // -1: none (the round was captured, or the client declined)
  uint32_t state = 0;           // SlotState when the round gave up
  int32_t tid = 0;
  uint32_t signals_sent = 0;    // stop signals sent to it in this round
  uint32_t signals_answered = 0;
  uint32_t refusal = 0;         // StopRefusal of its last answer
  uint64_t pc = 0;              // where that answer found it
};

struct RoundResult {
  enum Outcome { kCaptured, kAbandoned } outcome;
  uint64_t pause_ns;     // request to release (threads told to go)
  uint64_t quiesce_ns;   // request to quiescence (or to giving up)
  uint32_t signals_sent;
  Straggler straggler;   // for an abandoned round
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
  // A round gave up (quiescence not reached, or the capture declined); the
  // threads run again.
  virtual void Abandoned(uint64_t epoch, const RoundResult& round) { (void)epoch, (void)round; }
};

struct CoordinatorOptions {
  int epoch_ms = 10;          // interval between the starts of checkpoint attempts
  int quiesce_timeout_ms = 0; // 0: DefaultQuiesceMs(epoch_ms)
  int stop_signal = 0;        // 0: SIGRTMIN + 6
  // Who owns the code at a pc (RestartPoint::Install). Null: the program.
  CodeOwner (*code_owner)(uintptr_t pc) = nullptr;
  // Called on the coordinator thread once per interval (statistics on demand).
  void (*on_tick)() = nullptr;
};

class EpochCoordinator {
 public:
  // An attempt gives up after max(20 ms, 2 intervals): a round reaches
  // quiescence in well under a millisecond unless a thread is unreachable,
  // and the threads that did park wait out this bound.
  static int DefaultQuiesceMs(int epoch_ms) { return epoch_ms * 2 > 20 ? epoch_ms * 2 : 20; }
  static constexpr uint32_t kMaxBackoffIntervals = 64;

  EpochCoordinator(ThreadRegistry* registry, CheckpointClient* client, const CoordinatorOptions& options);
  ~EpochCoordinator();

  // Installs the stop-signal handler and the thread side (RestartPoint). One
  // coordinator per process.
  Status Install();
  // Starts the periodic thread, first epoch `first_epoch`.
  Status Start(uint64_t first_epoch);
  // Stops the periodic thread (joins it). Idempotent.
  void Stop();
  // Runs one round now on the calling thread (tests; the exit path). A
  // registered application thread calling it must first take its own slot out
  // of the round (the exit path runs it on the thread's fiber, kBlocked), or the
  // round waits for it in vain and is abandoned.
  RoundResult RunRound(uint64_t epoch);
  // Asks for the next round now instead of at the next interval (output is
  // waiting for a commit). Any thread; not async-signal-safe.
  void RequestRound();
  // Wakes a coordinator waiting for the previous epoch to ship (it has).
  void Nudge();

  uint64_t next_epoch() const { return next_epoch_.load(std::memory_order_relaxed); }
  const CoordinatorOptions& options() const { return options_; }
  int stop_signal() const { return stop_signal_; }
  int quiesce_timeout_ms() const { return quiesce_timeout_ms_; }

 private:
  static constexpr uint64_t kReadyPollNs = 1'000'000;  // see Loop
  void Loop();
  bool SleepUntil(uint64_t until_ns, bool for_round);
  // True when every slot is quiescent; else signals the running ones and
  // notes the first slot that is not in *straggler.
  bool ScanQuiescent(uint32_t gen, uint32_t* signals_sent, Straggler* straggler);
  // Ends a round; returns when (CLOCK_MONOTONIC ns) the threads were let go.
  uint64_t Release();

  ThreadRegistry* registry_;
  CheckpointClient* client_;
  CoordinatorOptions options_;
  int stop_signal_ = 0;
  int quiesce_timeout_ms_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> round_wanted_{false};
  std::atomic<uint64_t> next_epoch_{1};
  std::thread thread_;
  std::atomic<uint32_t> stop_word_{0};
  // Backoff after abandoned rounds (coordinator thread only).
  uint32_t failures_in_a_row_ = 0;
  uint32_t intervals_to_skip_ = 0;
};

}  // namespace respct::core
