#include "runtime/core/epoch_coordinator.h"

#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>

#include "runtime/core/clock.h"
#include "runtime/core/current_thread.h"
#include "runtime/core/thread_registry.h"
#include "runtime/sync/futex.h"
#include "runtime/sync/lock_depth.h"

namespace respct::core {

std::atomic<uint64_t> EpochCoordinator::g_request{0};
std::atomic<uint32_t> EpochCoordinator::g_generation{0};
std::atomic<uint32_t> EpochCoordinator::g_park_events{0};

namespace {

using sync::detail::FutexWait;
using sync::detail::FutexWakeAll;

EpochCoordinator* g_instance = nullptr;
ThreadRegistry* g_registry = nullptr;
bool (*g_pc_allowed)(uintptr_t) = nullptr;

uint32_t* Word(std::atomic<uint32_t>& a) { return reinterpret_cast<uint32_t*>(&a); }

// Async-signal-safe. Parks the thread the signal interrupted when it holds no
// application lock, runs no runtime code and was stopped where parking is safe.
void OnStopSignal(int, siginfo_t*, void* ucv) {
  if (!EpochCoordinator::CheckpointRequested()) return;
  const CurrentThread& ct = t_current;
  if (ct.slot == nullptr || ct.in_runtime != 0 || ct.on_fiber || sync::LockDepth() != 0) return;
  if (g_pc_allowed != nullptr) {
    const auto* uc = static_cast<const ucontext_t*>(ucv);
    if (!g_pc_allowed(static_cast<uintptr_t>(uc->uc_mcontext.gregs[REG_RIP]))) return;
  }
  EpochCoordinator::ParkIfRequested(kParkSignal);
}

}  // namespace

EpochCoordinator::EpochCoordinator(ThreadRegistry* registry, CheckpointClient* client,
                                   const CoordinatorOptions& options)
    : registry_(registry), client_(client), options_(options) {
  stop_signal_ = options.stop_signal != 0 ? options.stop_signal : SIGRTMIN + 6;
  quiesce_timeout_ms_ = options.quiesce_timeout_ms != 0 ? options.quiesce_timeout_ms
                                                        : (options.epoch_ms * 5 > 50 ? options.epoch_ms * 5 : 50);
}

EpochCoordinator::~EpochCoordinator() {
  Stop();
  if (g_instance == this) {
    g_instance = nullptr;
    g_registry = nullptr;
    g_pc_allowed = nullptr;
  }
}

Status EpochCoordinator::Install() {
  struct sigaction sa {};
  sa.sa_sigaction = OnStopSignal;
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  sigemptyset(&sa.sa_mask);
  if (sigaction(stop_signal_, &sa, nullptr) != 0) return Status::FromErrno("sigaction(stop signal)", errno);
  g_registry = registry_;
  g_pc_allowed = options_.pc_allowed;
  g_instance = this;
  return Status::OK();
}

Status EpochCoordinator::Start(uint64_t first_epoch) {
  next_epoch_.store(first_epoch, std::memory_order_relaxed);
  stopping_.store(false);
  thread_ = std::thread([this] {
    t_current.in_runtime = 1;  // never an application thread
    pthread_setname_np(pthread_self(), "respct-epoch");
    Loop();
  });
  return Status::OK();
}

void EpochCoordinator::Stop() {
  if (!thread_.joinable()) return;
  stopping_.store(true);
  stop_word_.fetch_add(1);
  FutexWakeAll(Word(stop_word_), false);
  thread_.join();
}

void EpochCoordinator::Loop() {
  while (!stopping_.load()) {
    const uint32_t seen = stop_word_.load();
    timespec interval{options_.epoch_ms / 1000, (options_.epoch_ms % 1000) * 1'000'000L};
    // Sleeps one interval, or less when Stop() bumps the word.
    if (!stopping_.load()) sync::detail::RawFutexSyscall(Word(stop_word_), FUTEX_WAIT_PRIVATE, seen, &interval, 0);
    if (stopping_.load()) break;
    if (options_.on_tick != nullptr) options_.on_tick();
    if (!client_->ReadyForCheckpoint()) continue;
    const uint64_t epoch = next_epoch_.load(std::memory_order_relaxed);
    if (RunRound(epoch).outcome == RoundResult::kCaptured) next_epoch_.store(epoch + 1, std::memory_order_relaxed);
  }
}

bool EpochCoordinator::ScanQuiescent(uint64_t gen, uint32_t* signals_sent) {
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
    all = false;
    if (st == kSlotRunning && c.no_signal.load(std::memory_order_relaxed) == 0) {
      const int32_t tid = c.tid.load(std::memory_order_relaxed);
      if (tid != 0 && now - c.last_signal_ns.load(std::memory_order_relaxed) > 1'000'000) {
        c.last_signal_ns.store(now, std::memory_order_relaxed);
        syscall(SYS_tgkill, getpid(), tid, stop_signal_);
        ++*signals_sent;
      }
    }
  }
  return all;
}

RoundResult EpochCoordinator::RunRound(uint64_t epoch) {
  RoundResult r{RoundResult::kAbandoned, 0, 0, 0};
  const uint64_t start = MonotonicNs();
  const uint64_t deadline = start + uint64_t(quiesce_timeout_ms_) * 1'000'000u;
  const uint32_t gen = g_generation.load(std::memory_order_acquire);
  g_request.store(epoch, std::memory_order_seq_cst);
  bool quiescent = false;
  for (;;) {
    const uint32_t events = g_park_events.load(std::memory_order_acquire);
    if (ScanQuiescent(gen, &r.signals_sent)) {
      quiescent = true;
      break;
    }
    if (MonotonicNs() >= deadline) break;
    // Wake on the next park, or after 200 µs to re-scan and re-signal.
    timespec wait{0, 200'000};
    sync::detail::RawFutexSyscall(Word(g_park_events), FUTEX_WAIT_PRIVATE, events, &wait, 0);
  }
  r.quiesce_ns = MonotonicNs() - start;
  if (quiescent && client_->CaptureQuiescent(epoch)) r.outcome = RoundResult::kCaptured;
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
  g_request.store(0, std::memory_order_seq_cst);
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
  FutexWakeAll(Word(g_generation), false);
  return released;
}

// ---- thread side ----

void EpochCoordinator::ParkIfRequested(ParkKind kind) {
  CurrentThread& ct = t_current;
  if (ct.slot == nullptr || ct.in_runtime != 0 || ct.on_fiber || sync::LockDepth() != 0) return;
  if (!CheckpointRequested()) return;
  FiberRequest req{FiberRequest::kPark, kind};
  SwitchToFiber(&req);
}

bool EpochCoordinator::RunBlocking(FiberRequest* req) {
  return !SwitchToFiber(req);
}

int EpochCoordinator::BlockingFutexWait(uint32_t* word, uint32_t expected, bool process_shared,
                                        const timespec* abstime, clockid_t clock) {
  const CurrentThread& ct = t_current;
  if (ct.slot == nullptr || ct.in_runtime != 0 || ct.on_fiber)
    return FutexWait(word, expected, process_shared, sync::detail::Deadline{abstime, clock});
  struct Wait {
    uint32_t* word;
    uint32_t expected;
    bool shared;
    sync::detail::Deadline deadline;
  } w{word, expected, process_shared, sync::detail::Deadline{abstime, clock}};
  FiberRequest req{FiberRequest::kBlocking, 0,
                   [](void* p) -> long {
                     auto* w = static_cast<Wait*>(p);
                     return FutexWait(w->word, w->expected, w->shared, w->deadline);
                   },
                   &w};
  if (!RunBlocking(&req)) return EINTR;
  return static_cast<int>(req.result);
}

void EpochCoordinator::EnterRunning(ThreadSlot* slot) {
  for (;;) {
    uint32_t st = kSlotStarting;
    if (slot->state_ref().compare_exchange_strong(st, kSlotRunning, std::memory_order_acq_rel)) return;
    // A round has us frozen (kFrozenStarting): wait for its release.
    const uint32_t gen = g_generation.load(std::memory_order_acquire);
    if (slot->load_state() == kSlotFrozenStarting) FutexWait(Word(g_generation), gen, false);
  }
}

// Runs on the thread's fiber; the thread's context is already in slot->fctx.
void EpochCoordinator::ServeOnFiber(FiberRequest* req) {
  ThreadSlot* slot = t_current.slot;
  SlotControl& control = g_registry->control(t_current.index);
  if (req->op == FiberRequest::kPark) {
    const uint32_t gen = g_generation.load(std::memory_order_acquire);
    const uint64_t epoch = g_request.load(std::memory_order_acquire);
    if (epoch == 0) return;  // the round ended before we got here
    slot->park_kind = req->park_kind;
    slot->saved_errno = errno;
    slot->lock_depth = sync::LockDepth();
    slot->parked_epoch = epoch;
    control.park_gen.store(gen, std::memory_order_relaxed);
    slot->state_ref().store(kSlotParked, std::memory_order_release);
    g_park_events.fetch_add(1, std::memory_order_acq_rel);
    FutexWakeAll(Word(g_park_events), false);
    while (g_generation.load(std::memory_order_acquire) == gen) FutexWait(Word(g_generation), gen, false);
    slot->state_ref().store(kSlotRunning, std::memory_order_release);
    errno = slot->saved_errno;
    return;
  }
  // Blocking operation: the slot is quiescent while it runs. The coordinator
  // only needs waking when a round is waiting for this thread.
  slot->park_kind = kParkBlocking;
  slot->saved_errno = errno;
  slot->lock_depth = sync::LockDepth();
  slot->state_ref().store(kSlotBlocked, std::memory_order_seq_cst);
  if (g_request.load(std::memory_order_seq_cst) != 0) {
    g_park_events.fetch_add(1, std::memory_order_acq_rel);
    FutexWakeAll(Word(g_park_events), false);
  }
  req->result = req->fn(req->arg);
  const int saved = errno;
  for (;;) {
    uint32_t st = kSlotBlocked;
    if (slot->state_ref().compare_exchange_strong(st, kSlotRunning, std::memory_order_acq_rel)) break;
    // Frozen by a round in progress: stay off the application's memory until it ends.
    const uint32_t gen = g_generation.load(std::memory_order_acquire);
    if (slot->load_state() == kSlotFrozen) FutexWait(Word(g_generation), gen, false);
  }
  errno = saved;
}

}  // namespace respct::core
