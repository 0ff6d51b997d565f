#include "runtime/core/restart_point.h"

#include <errno.h>
#include <ucontext.h>

#include "runtime/core/thread_registry.h"
#include "runtime/sync/futex.h"
#include "runtime/sync/lock_depth.h"

namespace respct::core {
namespace {

using round::FutexWord;
using round::g_generation;
using round::g_park_events;
using sync::detail::FutexWait;
using sync::detail::FutexWakeAll;

ThreadRegistry* g_registry = nullptr;
CodeOwner (*g_code_owner)(uintptr_t) = nullptr;

constexpr uint16_t kSyscallInsn = 0x050f;  // 0f 05, little-endian

CodeOwner OwnerOf(uintptr_t pc) { return g_code_owner != nullptr ? g_code_owner(pc) : CodeOwner::kProgram; }

uint16_t InsnAt(uintptr_t pc) {
  uint16_t v;
  __builtin_memcpy(&v, reinterpret_cast<const void*>(pc), sizeof v);
  return v;
}

// Whether the thread interrupted at `uc` stands at a system-call boundary in
// libc (see restart_point.h). Code pages are always readable; pc - 2 stays
// inside libc's text because a `syscall` instruction cannot start at its
// first byte and end past it (and the check only runs for pcs owned by libc).
bool AtSyscallBoundary(const ucontext_t* uc) {
  const auto pc = static_cast<uintptr_t>(uc->uc_mcontext.gregs[REG_RIP]);
  if (InsnAt(pc) == kSyscallInsn) return true;
  const auto rax = static_cast<long>(uc->uc_mcontext.gregs[REG_RAX]);
  return OwnerOf(pc - 2) == CodeOwner::kLibc && InsnAt(pc - 2) == kSyscallInsn && rax == -EINTR;
}

// Why a thread interrupted at `uc` may not park there (kRefusalNone: it may).
StopRefusal ClassifyStop(const CurrentThread& ct, const ucontext_t* uc, ParkKind* kind) {
  if (ct.in_runtime != 0) return kRefusalInRuntime;
  if (ct.on_fiber) return kRefusalOnFiber;
  if (ct.unsafe_handler_depth != 0) return kRefusalUnsafeHandler;
  if (ct.unparkable_depth != 0) return kRefusalUnparkableCall;
  const auto sp = static_cast<uint64_t>(uc->uc_mcontext.gregs[REG_RSP]);
  if (sp < ct.slot->stack_lo || sp >= ct.slot->stack_hi) return kRefusalOnAltStack;
  *kind = kParkSignal;
  switch (OwnerOf(static_cast<uintptr_t>(uc->uc_mcontext.gregs[REG_RIP]))) {
    case CodeOwner::kProgram: return kRefusalNone;
    case CodeOwner::kLibc:
      *kind = kParkSyscall;
      return AtSyscallBoundary(uc) ? kRefusalNone : kRefusalInLibc;
    case CodeOwner::kLoader: return kRefusalInLoader;
    case CodeOwner::kShim: return kRefusalInShim;
    case CodeOwner::kUnwinder: return kRefusalInUnwinder;
  }
  return kRefusalInShim;
}

void WakeCoordinator() {
  g_park_events.fetch_add(1, std::memory_order_acq_rel);
  FutexWakeAll(FutexWord(g_park_events), false);
}

}  // namespace

const char* StopRefusalName(uint32_t refusal) {
  switch (refusal) {
    case kRefusalNone: return "none";
    case kRefusalInRuntime: return "in respct's runtime code";
    case kRefusalOnFiber: return "switching to its park fiber";
    case kRefusalInLibc: return "inside libc, not at a system call";
    case kRefusalInLoader: return "inside the dynamic loader";
    case kRefusalInShim: return "inside librespct";
    case kRefusalInUnwinder: return "inside libgcc_s (unwinding)";
    case kRefusalOnAltStack: return "on an alternate signal stack";
    case kRefusalUnsafeHandler: return "in a signal handler that interrupted libc or respct";
    case kRefusalUnparkableCall: return "in a libc call that cannot be resumed from its middle (setuid family)";
  }
  return "unknown";
}

void RestartPoint::Install(ThreadRegistry* registry, CodeOwner (*code_owner)(uintptr_t), int stop_signal) {
  g_registry = registry;
  g_code_owner = code_owner;
  g_stop_signal.store(stop_signal, std::memory_order_relaxed);
}

void RestartPoint::Uninstall() {
  g_registry = nullptr;
  g_code_owner = nullptr;
}

void RestartPoint::NoteKernelWrite(void* addr, size_t len) {
  const CurrentThread& ct = t_current;
  if (ct.slot == nullptr || g_registry == nullptr || len == 0) return;
  SlotControl& c = g_registry->control(ct.index);
  const auto lo = reinterpret_cast<uint64_t>(addr), hi = lo + len;
  const uint64_t cur_lo = c.kernel_write_lo.load(std::memory_order_relaxed);
  const uint64_t cur_hi = c.kernel_write_hi.load(std::memory_order_relaxed);
  // Both move before the slot turns kBlocked (release in ServeOnFiber), which
  // is when the coordinator reads them.
  c.kernel_write_lo.store(cur_hi == 0 || lo < cur_lo ? lo : cur_lo, std::memory_order_relaxed);
  c.kernel_write_hi.store(hi > cur_hi ? hi : cur_hi, std::memory_order_relaxed);
}

RestartPoint::KernelWriteSpan RestartPoint::PendingKernelWrite() {
  const CurrentThread& ct = t_current;
  if (ct.slot == nullptr || g_registry == nullptr) return {};
  const SlotControl& c = g_registry->control(ct.index);
  return {c.kernel_write_lo.load(std::memory_order_relaxed), c.kernel_write_hi.load(std::memory_order_relaxed)};
}

void RestartPoint::RestoreKernelWrite(const KernelWriteSpan& span) {
  if (span.hi <= span.lo) return;
  const KernelWriteSpan now = PendingKernelWrite();
  if (now.lo == span.lo && now.hi == span.hi) return;
  KernelWrites(reinterpret_cast<void*>(span.lo), span.hi - span.lo);
}

void RestartPoint::ClearKernelWrites() {
  const CurrentThread& ct = t_current;
  if (ct.slot == nullptr || g_registry == nullptr) return;
  SlotControl& c = g_registry->control(ct.index);
  c.kernel_write_hi.store(0, std::memory_order_relaxed);
  c.kernel_write_lo.store(0, std::memory_order_relaxed);
}

void RestartPoint::Park(ParkKind kind) {
  if (!MayPark() || !Requested()) return;
  FiberRequest req{FiberRequest::kPark, kind};
  SwitchToFiber(&req);
}

bool RestartPoint::RunOnFiber(FiberRequest* req) { return !SwitchToFiber(req); }

int RestartPoint::FutexSleep(uint32_t* word, uint32_t expected, bool process_shared, const timespec* abstime,
                             clockid_t clock) {
  if (!MayPark()) return FutexWait(word, expected, process_shared, sync::detail::Deadline{abstime, clock});
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
  if (!RunOnFiber(&req)) return EINTR;
  return static_cast<int>(req.result);
}

void RestartPoint::EnterRunning(ThreadSlot* slot) {
  for (;;) {
    uint32_t st = kSlotStarting;
    if (slot->state_ref().compare_exchange_strong(st, kSlotRunning, std::memory_order_acq_rel)) return;
    // A round has us frozen (kFrozenStarting): wait for its release.
    const uint32_t gen = g_generation.load(std::memory_order_acquire);
    if (slot->load_state() == kSlotFrozenStarting) FutexWait(FutexWord(g_generation), gen, false);
  }
}

void RestartPoint::OnStopSignal(int, siginfo_t*, void* ucv) {
  if (!Requested()) return;
  const CurrentThread& ct = t_current;
  if (ct.slot == nullptr || g_registry == nullptr) return;
  const int saved_errno = errno;
  SlotControl& c = g_registry->control(ct.index);
  c.stop_answers.fetch_add(1, std::memory_order_relaxed);
  const auto* uc = static_cast<const ucontext_t*>(ucv);
  ParkKind kind = kParkSignal;
  const StopRefusal why = ClassifyStop(ct, uc, &kind);
  if (why != kRefusalNone) {
    c.refusal.store(why, std::memory_order_relaxed);
    c.refusal_pc.store(static_cast<uint64_t>(uc->uc_mcontext.gregs[REG_RIP]), std::memory_order_relaxed);
  } else {
    Park(kind);
  }
  errno = saved_errno;
}

bool RestartPoint::EnterProgramHandler(const ucontext_t* interrupted) {
  CurrentThread& ct = t_current;
  if (ct.slot == nullptr) return false;
  ParkKind kind;
  const bool unsafe = interrupted == nullptr || ClassifyStop(ct, interrupted, &kind) != kRefusalNone;
  if (unsafe) ++ct.unsafe_handler_depth;
  return unsafe;
}

void RestartPoint::LeaveProgramHandler(bool unsafe) {
  if (unsafe) --t_current.unsafe_handler_depth;
}

// Runs on the thread's fiber; the thread's context is already in slot->fctx.
void RestartPoint::ServeOnFiber(FiberRequest* req) {
  ThreadSlot* slot = t_current.slot;
  SlotControl& control = g_registry->control(t_current.index);
  if (req->op == FiberRequest::kPark) {
    const uint32_t gen = g_generation.load(std::memory_order_acquire);
    const uint64_t epoch = round::Request().load(std::memory_order_acquire);
    if (epoch == 0) return;  // the round ended before we got here
    slot->park_kind = req->park_kind;
    slot->saved_errno = errno;
    slot->lock_depth = sync::LockDepth();
    slot->parked_epoch = epoch;
    control.park_gen.store(gen, std::memory_order_relaxed);
    slot->state_ref().store(kSlotParked, std::memory_order_release);
    WakeCoordinator();
    while (g_generation.load(std::memory_order_acquire) == gen) FutexWait(FutexWord(g_generation), gen, false);
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
  if (round::Request().load(std::memory_order_seq_cst) != 0) WakeCoordinator();
  if (req->interruptible && t_current.handler_ran) {
    req->interrupted = true;
  } else {
    req->result = req->fn(req->arg);
  }
  const int saved = errno;
  for (;;) {
    uint32_t st = kSlotBlocked;
    if (slot->state_ref().compare_exchange_strong(st, kSlotRunning, std::memory_order_acq_rel)) break;
    // Frozen by a round in progress: stay off the application's memory until it ends.
    const uint32_t gen = g_generation.load(std::memory_order_acquire);
    if (slot->load_state() == kSlotFrozen) FutexWait(FutexWord(g_generation), gen, false);
  }
  errno = saved;
}

}  // namespace respct::core
