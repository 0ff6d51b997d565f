// StallReport: tells the user, during the run, when checkpoints are not
// being taken, and why (DESIGN §3). A run under respct that commits no epoch
// must never look like a protected one.
//
// The coordinator notes every abandoned round with the thread that held it
// up (RoundResult::straggler) and every captured one; on its tick it warns,
// at most once every kWarnEveryNs, when no epoch has been captured for
// kStallNs — naming the thread (slot, name, tid), its state, why its stop
// signal did not park it and where it was (a symbolised pc) — and once when
// the program has run kFirstCommitNs without a committed epoch. The counts
// per thread go into --stats.
//
// Coordinator thread only (Note*, MaybeWarn); Report may run on any thread
// (it reads counters that may move). Not async-signal-safe (dladdr, stdio).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/core/epoch_coordinator.h"
#include "runtime/core/runtime_stats.h"

namespace respct::core {

class StallReport {
 public:
  static constexpr uint64_t kStallNs = 2'000'000'000;
  static constexpr uint64_t kWarnEveryNs = 5'000'000'000;
  static constexpr uint64_t kFirstCommitNs = 2'000'000'000;

  // `max_threads`: the thread table's slots (the per-thread counts).
  StallReport(uint32_t max_threads, const RuntimeStats* stats, uint64_t start_ns);

  void NoteAbandoned(const RoundResult& round, uint64_t now_ns);
  void NoteCaptured(uint64_t now_ns);
  void MaybeWarn(uint64_t now_ns);

  // "thread 2 'bio_aof' (tid 1234): running, inside libc, not at a system
  // call, at memcpy+0x1f (libc.so.6)"
  std::string Describe(const Straggler& s) const;
  // Text lines or a JSON array for --stats.
  std::string Text() const;
  std::string Json() const;

 private:
  struct PerThread {
    uint64_t rounds_held = 0;
    Straggler last;
  };
  const RuntimeStats* stats_;
  uint64_t start_ns_;
  uint64_t last_capture_ns_ = 0;   // 0: none yet
  uint64_t last_warning_ns_ = 0;
  uint64_t abandoned_since_capture_ = 0;
  bool warned_no_commit_ = false;
  Straggler last_;
  std::vector<PerThread> threads_;
};

}  // namespace respct::core
