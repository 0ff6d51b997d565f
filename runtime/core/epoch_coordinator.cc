#include "runtime/core/epoch_coordinator.h"

#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>

#include "runtime/base/clock.h"
#include "runtime/core/current_thread.h"
#include "runtime/core/program_signals.h"
#include "runtime/core/round_words.h"
#include "runtime/core/thread_registry.h"
#include "runtime/sync/futex.h"

namespace respct::core {
namespace {

using round::FutexWord;
using round::g_generation;
using round::g_park_events;
using sync::detail::FutexWakeAll;

// A stop signal is re-sent to a running thread that has not parked after this
// long: the first may have found it where it may not park.
constexpr uint64_t kResignalNs = 1'000'000;

}  // namespace

EpochCoordinator::EpochCoordinator(ThreadRegistry* registry, CheckpointClient* client,
                                   const CoordinatorOptions& options)
    : registry_(registry), client_(client), options_(options) {
  stop_signal_ = options.stop_signal != 0 ? options.stop_signal : SIGRTMIN + 6;
  quiesce_timeout_ms_ =
      options.quiesce_timeout_ms != 0 ? options.quiesce_timeout_ms : DefaultQuiesceMs(options.epoch_ms);
}

EpochCoordinator::~EpochCoordinator() {
  Stop();
  RestartPoint::Uninstall();
}

Status EpochCoordinator::Install() {
  struct sigaction sa {};
  sa.sa_sigaction = RestartPoint::OnStopSignal;
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  sigemptyset(&sa.sa_mask);
  if (sigaction(stop_signal_, &sa, nullptr) != 0) return Status::FromErrno("sigaction(stop signal)", errno);
  RestartPoint::Install(registry_, options_.code_owner, stop_signal_);
  return Status::OK();
}

Status EpochCoordinator::Start(uint64_t first_epoch) {
  next_epoch_.store(first_epoch, std::memory_order_relaxed);
  stopping_.store(false);
  thread_ = std::thread([this] {
    t_current.in_runtime = 1;  // never an application thread
    BlockSignalsInRuntimeThread();
    pthread_setname_np(pthread_self(), "respct-epoch");
    Loop();
  });
  return Status::OK();
}

void EpochCoordinator::RequestRound() {
  if (round_wanted_.exchange(true, std::memory_order_acq_rel)) return;
  stop_word_.fetch_add(1);
  FutexWakeAll(FutexWord(stop_word_), false);
}

void EpochCoordinator::Nudge() {
  stop_word_.fetch_add(1);
  FutexWakeAll(FutexWord(stop_word_), false);
}

void EpochCoordinator::Stop() {
  if (!thread_.joinable()) return;
  stopping_.store(true);
  stop_word_.fetch_add(1);
  FutexWakeAll(FutexWord(stop_word_), false);
  thread_.join();
}

// Sleeps until the monotonic time `until_ns`, or less: when a round is wanted
// (`for_round`), or for one wake of the word (Stop, RequestRound, Nudge)
// otherwise. False once stopping.
bool EpochCoordinator::SleepUntil(uint64_t until_ns, bool for_round) {
  const uint32_t entered = stop_word_.load();
  for (;;) {
    if (stopping_.load()) return false;
    const uint32_t seen = stop_word_.load();
    const uint64_t now = MonotonicNs();
    if (now >= until_ns) return true;
    if (for_round ? round_wanted_.load(std::memory_order_acquire) : seen != entered) return true;
    const uint64_t left = until_ns - now;
    timespec rel{static_cast<time_t>(left / 1'000'000'000u), static_cast<long>(left % 1'000'000'000u)};
    sync::detail::RawFutexSyscall(FutexWord(stop_word_), FUTEX_WAIT_PRIVATE, seen, &rel, 0);
  }
}

void EpochCoordinator::Loop() {
  // Attempts start on a fixed schedule, one per interval: a round's own time
  // and its commit are not added to the period, so 10 ms epochs commit 100
  // times a second when both fit in the interval (sleeping one interval after
  // each round gave about 88). A schedule more than an interval behind
  // restarts from now instead of bursting to catch up.
  const uint64_t interval_ns = uint64_t(options_.epoch_ms) * 1'000'000u;
  uint64_t due = MonotonicNs() + interval_ns;
  while (SleepUntil(due, true)) {
    const uint64_t now = MonotonicNs();
    if (round_wanted_.exchange(false, std::memory_order_acq_rel) && now < due) {
      // A round on demand (output waiting): the schedule starts again from it.
      due = now + interval_ns;
    } else {
      due = now - due > interval_ns ? now + interval_ns : due + interval_ns;
    }
    if (options_.on_tick != nullptr) options_.on_tick();
    if (intervals_to_skip_ > 0) {
      --intervals_to_skip_;
      continue;
    }
    // The previous epoch still shipping: look again every millisecond (or
    // when a commit nudges) rather than give up the whole interval.
    while (!client_->ReadyForCheckpoint() && MonotonicNs() + kReadyPollNs < due)
      if (!SleepUntil(MonotonicNs() + kReadyPollNs, false)) return;
    if (!client_->ReadyForCheckpoint()) continue;
    const uint64_t epoch = next_epoch_.load(std::memory_order_relaxed);
    if (RunRound(epoch).outcome == RoundResult::kCaptured) {
      next_epoch_.store(epoch + 1, std::memory_order_relaxed);
      failures_in_a_row_ = 0;
    } else {
      failures_in_a_row_ = failures_in_a_row_ < 31 ? failures_in_a_row_ + 1 : 31;
      const uint32_t wait = failures_in_a_row_ >= 7 ? kMaxBackoffIntervals : (1u << failures_in_a_row_) / 2;
      intervals_to_skip_ = wait < kMaxBackoffIntervals ? wait : kMaxBackoffIntervals;
    }
  }
}

bool EpochCoordinator::ScanQuiescent(uint32_t gen, uint32_t* signals_sent, Straggler* straggler) {
  bool all = true;
  const uint64_t now = MonotonicNs();
  for (uint32_t i = 0; i < registry_->max_threads(); ++i) {
    ThreadSlot& s = registry_->slot(i);
    SlotControl& c = registry_->control(i);
    uint32_t st = s.load_state();
    if (st == kSlotStarting) {
      if (s.state_ref().compare_exchange_strong(st, kSlotFrozenStarting, std::memory_order_acq_rel)) continue;
    } else if (st == kSlotBlocked) {
      if (s.state_ref().compare_exchange_strong(st, kSlotFrozen, std::memory_order_acq_rel)) continue;
    }
    if (IsQuiescent(static_cast<SlotState>(st))) continue;
    if (st == kSlotParked && c.park_gen.load(std::memory_order_relaxed) == gen) continue;
    if (all) {
      straggler->slot = static_cast<int32_t>(i);
      straggler->state = st;
    }
    all = false;
    if (st == kSlotRunning) {
      const int32_t tid = c.tid.load(std::memory_order_relaxed);
      if (tid != 0 && now - c.last_signal_ns.load(std::memory_order_relaxed) > kResignalNs) {
        c.last_signal_ns.store(now, std::memory_order_relaxed);
        syscall(SYS_tgkill, getpid(), tid, stop_signal_);
        ++c.round_signals;
        ++*signals_sent;
      }
    }
  }
  return all;
}

RoundResult EpochCoordinator::RunRound(uint64_t epoch) {
  RoundResult r{RoundResult::kAbandoned, 0, 0, 0, {}};
  for (uint32_t i = 0; i < registry_->max_threads(); ++i) {
    SlotControl& c = registry_->control(i);
    c.round_signals = 0;
    c.round_answers_base = c.stop_answers.load(std::memory_order_relaxed);
  }
  const uint64_t start = MonotonicNs();
  const uint64_t deadline = start + uint64_t(quiesce_timeout_ms_) * 1'000'000u;
  const uint32_t gen = g_generation.load(std::memory_order_acquire);
  round::Request().store(epoch, std::memory_order_seq_cst);
  bool quiescent = false;
  Straggler straggler;
  for (;;) {
    const uint32_t events = g_park_events.load(std::memory_order_acquire);
    straggler = Straggler{};
    if (ScanQuiescent(gen, &r.signals_sent, &straggler)) {
      quiescent = true;
      break;
    }
    if (MonotonicNs() >= deadline) break;
    // Wake on the next park, or after 200 µs to re-scan and re-signal.
    timespec wait{0, 200'000};
    sync::detail::RawFutexSyscall(FutexWord(g_park_events), FUTEX_WAIT_PRIVATE, events, &wait, 0);
  }
  r.quiesce_ns = MonotonicNs() - start;
  if (quiescent && client_->CaptureQuiescent(epoch)) r.outcome = RoundResult::kCaptured;
  if (!quiescent && straggler.slot >= 0) {
    const SlotControl& c = registry_->control(static_cast<uint32_t>(straggler.slot));
    straggler.tid = c.tid.load(std::memory_order_relaxed);
    straggler.signals_sent = c.round_signals;
    straggler.signals_answered = c.stop_answers.load(std::memory_order_relaxed) - c.round_answers_base;
    straggler.refusal = c.refusal.load(std::memory_order_relaxed);
    straggler.pc = c.refusal_pc.load(std::memory_order_relaxed);
    r.straggler = straggler;
  }
  // The pause ends when the threads are told to go. Timing after the wake
  // would add however long the woken threads keep this one off the CPU.
  r.pause_ns = Release() - start;
  if (r.outcome == RoundResult::kCaptured) {
    client_->AfterRelease(epoch, r);
  } else {
    client_->Abandoned(epoch, r);
  }
  return r;
}

uint64_t EpochCoordinator::Release() {
  round::Request().store(0, std::memory_order_seq_cst);
  for (uint32_t i = 0; i < registry_->max_threads(); ++i) {
    ThreadSlot& s = registry_->slot(i);
    // Only frozen slots change. A CAS that fails still needs write access,
    // and the slots' pages were just write-protected by the tracker: a plain
    // load first spares a fault per page.
    uint32_t st = s.load_state();
    if (st == kSlotFrozen) {
      s.state_ref().compare_exchange_strong(st, kSlotBlocked, std::memory_order_acq_rel);
    } else if (st == kSlotFrozenStarting) {
      s.state_ref().compare_exchange_strong(st, kSlotStarting, std::memory_order_acq_rel);
    }
  }
  g_generation.fetch_add(1, std::memory_order_acq_rel);
  const uint64_t released = MonotonicNs();
  FutexWakeAll(FutexWord(g_generation), false);
  return released;
}

}  // namespace respct::core
