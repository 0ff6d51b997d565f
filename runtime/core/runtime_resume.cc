// Runtime, the resume half: a process started by respct-recover restores the
// image's memory, recreates the kernel objects and every thread on its own
// slot, stack and TCB, and releases them together at their saved contexts
// (the order is DESIGN §6's, spelled out in ResumeMain). Runs on the thread
// that would have run main, before any program code; a failure ends the
// process (FailRecovery): half a resumed program is worse than none.
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "runtime/base/clock.h"
#include "runtime/base/exit_code.h"
#include "runtime/core/anonymous_maps.h"
#include "runtime/core/app_heap.h"
#include "runtime/core/current_thread.h"
#include "runtime/core/libc_entry.h"
#include "runtime/core/park_fiber.h"
#include "runtime/core/program_signals.h"
#include "runtime/core/runtime.h"
#include "runtime/core/shim_log.h"
#include "runtime/core/thread_keys.h"
#include "runtime/kernel/signals.h"
#include "runtime/sync/futex.h"
#include "runtime/sync/lock_depth.h"
#include "runtime/sync/owner_id.h"

namespace respct::core {

int Runtime::ResumeMain() {
  pthread_t main_thread{};
  {
    RuntimeScope scope;
    const uint64_t t0 = MonotonicNs();
    // The order of a resume, and why (DESIGN §6):
    // 1. memory first: the records of kernel objects and the heap blocks
    //    they point to are part of it;
    recovery_->RestoreMemory(regions_, program_.process_owned_globals, library_startup_);
    library_startup_.clear();
    InitMetaHeader();
    auto heap = heap::Heap::Attach(reinterpret_cast<void*>(config_.layout.heap_base()));
    if (!heap.ok()) FailRecovery("the image's heap: " + heap.status().ToString());
    g_app_heap.store(heap.value(), std::memory_order_release);
    // 2. checkpointing is set up (not started) so that its signal handler,
    //    tracker and descriptors exist before the program's signals are set;
    if (Status st = StartCheckpointing(); !st.ok()) FailRecovery(st.ToString());
    //    the program's anonymous mappings are in the heap: their table is
    //    adopted, once the runtime's own code is known;
    AnonymousMaps::Install(AppHeap(), &meta_->anonymous_maps, SystemMemoryCalls());
    // 3. kernel objects, before any thread of the program exists: a resumed
    //    thread re-issues its blocked call on a descriptor that must be there;
    RecreateKernelObjects();
    // 4. every thread recreated and its stack and TLS restored, none of them
    //    running program code yet; 5. all released together (ResumeThreads).
    ResumeThreads(&main_thread);
    // 6. checkpoints, once every thread is back at its context (DESIGN §8).
    (void)coordinator_->Start(replicator_->committed_epoch() + 1);
    ShimLog(kLogInfo, "resumed epoch %llu: %u thread(s) in %.1f ms", static_cast<unsigned long long>(recovery_->epoch()),
            ready_.load(), static_cast<double>(MonotonicNs() - t0) / 1e6);
    BlockSignalsInRuntimeThread();
  }
  void* ret = nullptr;
  g_libc.pthread_join(main_thread, &ret);
  ThreadJoined(main_thread);
  return static_cast<int>(reinterpret_cast<intptr_t>(ret));
}

void Runtime::RecreateKernelObjects() {
  kernel_->set_heap(AppHeap());
  kernel::RecreateOptions o;
  o.drop_unrestorable = config_.drop_unrestorable;
  o.trampoline = ProgramSignalTrampoline;
  o.own_signals = own_signals_;
  kernel::RecreateReport report;
  if (Status st = kernel_->Recreate(o, &report); !st.ok()) FailRecovery(st.ToString());
  for (const std::string& w : report.warnings) ShimLog(kLogWarn, "%s", w.c_str());
  ShimLog(kLogWarn, "%s", report.summary.c_str());
  kernel::SetActiveKernel(kernel_.get());
}

void Runtime::ResumeThreads(pthread_t* main_thread) {
  uint32_t spawned = 0;
  bool have_main = false;
  release_.store(0, std::memory_order_release);
  for (uint32_t i = 0; i < registry_->max_threads(); ++i) {
    ThreadSlot& s = registry_->slot(i);
    const uint32_t state = s.load_state();
    void* (*entry)(void*) = nullptr;
    switch (state) {
      case kSlotParked:
      case kSlotBlocked:
      case kSlotFrozen:
        entry = ResumeTrampoline;
        break;
      case kSlotStarting:
      case kSlotFrozenStarting:
        // pthread_create had returned but the thread had not run: it starts now.
        s.state_ref().store(kSlotStarting, std::memory_order_release);
        entry = ThreadTrampoline;
        break;
      case kSlotExited:
        if ((s.flags & kSlotDetached) != 0) {
          registry_->Free(i);
          continue;
        }
        // Ended, not joined yet: a thread that ends at once with the same
        // value, so pthread_join on it behaves as it would have.
        entry = ExitedTrampoline;
        break;
      default:
        continue;
    }
    if (static_cast<int>(i) == config_.test_delay_slot) {
      // Test hook (RESPCT_TEST_DELAY_SLOT): the threads spawned before this
      // one must not run meanwhile.
      timespec d{config_.test_delay_ms / 1000, (config_.test_delay_ms % 1000) * 1'000'000L};
      nanosleep(&d, nullptr);
    }
    const uint64_t tcb = s.tcb;
    pthread_t t{};
    if (const int rc = SpawnOnSlot(i, nullptr, entry, &t); rc != 0)
      FailRecovery("cannot recreate thread " + std::to_string(i) + ": " + std::strerror(rc));
    ++spawned;
    if (tcb != 0 && static_cast<uint64_t>(t) != tcb)
      FailRecovery("thread " + std::to_string(i) + " got its TCB at " + std::to_string(t) + ", the image's was at " +
                   std::to_string(tcb) + " (different glibc or static TLS size?)");
    if ((s.flags & kSlotMain) != 0) {
      *main_thread = t;
      have_main = true;
    }
  }
  if (!have_main) FailRecovery("the image has no main thread");
  // Every thread is recreated, its memory restored and its context ready to
  // be jumped to; none has run an instruction of the program.
  for (;;) {
    const uint32_t n = ready_.load(std::memory_order_acquire);
    if (n >= spawned) break;
    sync::detail::FutexWait(reinterpret_cast<uint32_t*>(&ready_), n, false);
  }
  AppHeap()->FlushOrphanedThreadCaches();
  release_.store(1, std::memory_order_release);
  sync::detail::FutexWakeAll(reinterpret_cast<uint32_t*>(&release_), false);
}

void Runtime::ReadyAndWaitForRelease() {
  ready_.fetch_add(1, std::memory_order_acq_rel);
  sync::detail::FutexWakeAll(reinterpret_cast<uint32_t*>(&ready_), false);
  while (release_.load(std::memory_order_acquire) == 0)
    sync::detail::FutexWait(reinterpret_cast<uint32_t*>(&release_), 0, false);
}

void Runtime::FailRecovery(const std::string& why) {
  ShimLog(kLogError, "recovery failed: %s", why.c_str());
  _exit(kExitRespctFailure);
}

void* Runtime::ResumeTrampoline(void* slot_index) {
  const auto i = static_cast<uint32_t>(reinterpret_cast<uintptr_t>(slot_index));
  Runtime* rt = Active();
  ThreadSlot& s = rt->registry_->slot(i);
  // Runtime code until the jump; RestoreOnFiber clears it, since the scope
  // of this frame never ends (the frame itself is overwritten).
  t_current.in_runtime = 1;
  rt->registry_->control(i).tid.store(static_cast<int32_t>(syscall(SYS_gettid)), std::memory_order_relaxed);
  if ((s.flags & kSlotMain) != 0) SetProgramMainThread(static_cast<int>(syscall(SYS_gettid)), &s);
  t_current.slot = &s;
  t_current.index = i;
  sync::SetCurrentOwnerId(i + 1);
  sync::SetLockDepth(s.lock_depth);
  ThreadKeys::BindSlot(i);
  if (static_cast<uint64_t>(pthread_self()) != s.tcb || ExecutableTlsBlock() != s.tls_addr)
    rt->FailRecovery("thread " + std::to_string(i) + ": TCB or TLS block not where the image has it");
  if (Status st = PrepareParkFiber(); !st.ok()) rt->FailRecovery(st.ToString());
  if (Status st = AppHeap()->BindThreadSlot(i); !st.ok())
    ShimLog(kLogDebug, "thread %u: heap cache slot: %s", i, st.ToString().c_str());
  ResumeOnFiber(s.fctx, RestoreOnFiber, &s);
}

// On the thread's fiber, its own stack idle: the last step before its context.
void Runtime::RestoreOnFiber(void* slot) {
  auto* s = static_cast<ThreadSlot*>(slot);
  Runtime* rt = Active();
  rt->recovery_->RestoreThreadStack(*s, rt->config_.layout.stacks_base());
  RestoreThreadAttributes(*s);
  rt->ReadyAndWaitForRelease();
  s->state_ref().store(kSlotRunning, std::memory_order_release);
  errno = s->saved_errno;
  t_current.in_runtime = 0;
}

void* Runtime::ExitedTrampoline(void* slot_index) {
  const auto i = static_cast<uint32_t>(reinterpret_cast<uintptr_t>(slot_index));
  Runtime* rt = Active();
  rt->ReadyAndWaitForRelease();
  return reinterpret_cast<void*>(rt->registry_->slot(i).retval);
}

// The thread's signal mask and name, as the program had them.
void Runtime::RestoreThreadAttributes(const ThreadSlot& s) {
  sigset_t mask;
  kernel::BitsToMask(s.sigmask, &mask);
  StripRuntimeSignals(&mask);
  pthread_sigmask(SIG_SETMASK, &mask, nullptr);
  if (s.name[0] != '\0') {
    char name[16];
    std::memcpy(name, s.name, sizeof name);
    name[15] = '\0';
    pthread_setname_np(pthread_self(), name);
  }
}

}  // namespace respct::core
