// Runtime, the thread lifecycle: every application thread runs on a slot of
// the thread table, with its stack in the persisted stacks region, from
// pthread_create (StartThread, SpawnOnSlot, ThreadTrampoline) to its end
// (ThreadExiting) and its join or detach, which free the slot. A recovery
// spawns its threads through SpawnOnSlot too (runtime_resume.cc).
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "runtime/core/app_heap.h"
#include "runtime/core/current_thread.h"
#include "runtime/core/libc_entry.h"
#include "runtime/core/park_fiber.h"
#include "runtime/core/program_signals.h"
#include "runtime/core/runtime.h"
#include "runtime/core/shim_log.h"
#include "runtime/core/thread_keys.h"
#include "runtime/kernel/signals.h"
#include "runtime/sync/owner_id.h"

namespace respct::core {

int Runtime::CreateThread(pthread_t* thread, const pthread_attr_t* attr, void* (*start)(void*), void* arg) {
  return StartThread(thread, attr, start, arg, 0);
}

int Runtime::StartThread(pthread_t* thread, const pthread_attr_t* attr, void* (*start)(void*), void* arg,
                         uint32_t flags) {
  RuntimeScope scope;
  ReapDetachedSlots();
  int detach = PTHREAD_CREATE_JOINABLE;
  if (attr != nullptr) pthread_attr_getdetachstate(attr, &detach);
  // The slot's flags carry the detach state to SpawnOnSlot (and to a recovery).
  if (detach == PTHREAD_CREATE_DETACHED) flags |= kSlotDetached;
  auto slot = registry_->Reserve(reinterpret_cast<uint64_t>(start), reinterpret_cast<uint64_t>(arg), flags);
  if (!slot.ok()) {
    ShimLog(kLogWarn, "pthread_create: %s", slot.status().message().c_str());
    return EAGAIN;
  }
  const uint32_t i = *slot;
  const int rc = SpawnOnSlot(i, attr, ThreadTrampoline, thread);
  if (rc != 0) registry_->Free(i);
  return rc;
}

int Runtime::SpawnOnSlot(uint32_t i, const pthread_attr_t* attr, void* (*entry)(void*), pthread_t* thread) {
  ThreadSlot& s = registry_->slot(i);
  const Layout& l = config_.layout;
  s.stack_lo = l.stack_of(i);
  s.stack_hi = s.stack_lo + l.stack_size;
  pthread_attr_t a;
  pthread_attr_init(&a);
  pthread_attr_setdetachstate(&a, (s.flags & kSlotDetached) != 0 ? PTHREAD_CREATE_DETACHED : PTHREAD_CREATE_JOINABLE);
  if (attr != nullptr) {
    // glibc's default (the stack rlimit) is what most attrs carry: only an
    // explicit request for more than a slot holds is worth a warning.
    size_t wanted = 0, dflt = 0;
    pthread_attr_t defaults;
    if (pthread_getattr_default_np(&defaults) == 0) {
      pthread_attr_getstacksize(&defaults, &dflt);
      pthread_attr_destroy(&defaults);
    }
    if (pthread_attr_getstacksize(attr, &wanted) == 0 && wanted > l.stack_size && wanted != dflt)
      ShimLog(kLogWarn, "pthread_create asked for a %zu-byte stack; respct gives %zu (RESPCT_STACK_SIZE)", wanted,
              l.stack_size);
    int inherit = PTHREAD_INHERIT_SCHED;
    pthread_attr_getinheritsched(attr, &inherit);
    if (inherit == PTHREAD_EXPLICIT_SCHED) {
      int policy = SCHED_OTHER;
      sched_param param{};
      pthread_attr_getschedpolicy(attr, &policy);
      pthread_attr_getschedparam(attr, &param);
      pthread_attr_setinheritsched(&a, inherit);
      pthread_attr_setschedpolicy(&a, policy);
      pthread_attr_setschedparam(&a, &param);
    }
  }
  pthread_attr_setstack(&a, reinterpret_cast<void*>(s.stack_lo), l.stack_size);
  const int rc = g_libc.pthread_create(thread, &a, entry, reinterpret_cast<void*>(uintptr_t{i}));
  pthread_attr_destroy(&a);
  return rc;
}

void* Runtime::ThreadTrampoline(void* slot_index) {
  const auto i = static_cast<uint32_t>(reinterpret_cast<uintptr_t>(slot_index));
  Runtime* rt = Active();
  ThreadSlot& s = rt->registry_->slot(i);
  {
    RuntimeScope scope;
    // Everything above this frame belongs to glibc (start frame, static TLS,
    // TCB): a restore copies [fctx, entry_sp) and never more.
    s.entry_sp = reinterpret_cast<uint64_t>(__builtin_frame_address(0)) + 16;
    s.tcb = static_cast<uint64_t>(pthread_self());
    s.tls_addr = ExecutableTlsBlock();
    s.tls_size = static_cast<uint32_t>(rt->program_.tls_size);
    rt->registry_->control(i).tid.store(static_cast<int32_t>(syscall(SYS_gettid)), std::memory_order_relaxed);
    if ((s.flags & kSlotMain) != 0) SetProgramMainThread(static_cast<int>(syscall(SYS_gettid)), &s);
    t_current.slot = &s;
    t_current.index = i;
    sync::SetCurrentOwnerId(i + 1);
    ThreadKeys::BindSlot(i);
    if (Status st = PrepareParkFiber(); !st.ok()) {
      ShimLog(kLogError, "thread start: %s", st.ToString().c_str());
      std::abort();
    }
    if (Status st = AppHeap()->BindThreadSlot(i); !st.ok())
      ShimLog(kLogDebug, "thread %u: heap cache slot: %s", i, st.ToString().c_str());
    if (rt->release_.load(std::memory_order_acquire) == 0) {
      // Created by a recovery: it starts with the others.
      RestoreThreadAttributes(s);
      rt->ReadyAndWaitForRelease();
    } else {
      // It starts with its creator's mask (pthread_create): the slot keeps it.
      sigset_t mask;
      pthread_sigmask(SIG_BLOCK, nullptr, &mask);
      kernel::MaskToBits(mask, s.sigmask);
    }
  }
  RestartPoint::EnterRunning(&s);
  RestartPoint::Pass();
  auto start = reinterpret_cast<void* (*)(void*)>(s.start_routine);
  void* ret = start(reinterpret_cast<void*>(s.arg));
  rt->ThreadExiting(ret);
  return ret;
}

void Runtime::ThreadExiting(void* retval) {
  ThreadSlot* s = t_current.slot;
  if (s == nullptr) return;
  // Program code: destructors of the thread's keys, as pthread_exit runs them.
  ThreadKeys::RunDestructors();
  RuntimeScope scope;
  s->retval = reinterpret_cast<uint64_t>(retval);
  AppHeap()->ReleaseThreadCache();
  // From here on the thread is not the application's any more: a round counts
  // it as exited and it never parks (glibc's exit path still runs on it).
  t_current.slot = nullptr;
  s->state_ref().store(kSlotExited, std::memory_order_release);
  ReleaseParkFiber();
}

int Runtime::SlotOf(pthread_t thread) {
  for (uint32_t i = 0; i < registry_->max_threads(); ++i) {
    ThreadSlot& s = registry_->slot(i);
    if (s.load_state() != kSlotFree && s.tcb == static_cast<uint64_t>(thread)) return static_cast<int>(i);
  }
  return -1;
}

void Runtime::ThreadJoined(pthread_t thread) {
  const int i = SlotOf(thread);
  if (i >= 0) registry_->Free(static_cast<uint32_t>(i));
}

void Runtime::ThreadNamed(pthread_t thread, const char* name) {
  const int i = SlotOf(thread);
  if (i < 0) return;
  char* dst = registry_->slot(static_cast<uint32_t>(i)).name;
  std::strncpy(dst, name, 15);
  dst[15] = '\0';
}

void Runtime::ThreadDetached(pthread_t thread) {
  const int i = SlotOf(thread);
  if (i >= 0) registry_->slot(static_cast<uint32_t>(i)).flags |= kSlotDetached;
}

void Runtime::ReapDetachedSlots() {
  // A detached thread's slot (and stack) is reusable once the kernel thread
  // is gone: glibc runs on that stack until the very end.
  for (uint32_t i = 0; i < registry_->max_threads(); ++i) {
    ThreadSlot& s = registry_->slot(i);
    if (s.load_state() != kSlotExited || (s.flags & kSlotDetached) == 0) continue;
    const int32_t tid = registry_->control(i).tid.load(std::memory_order_relaxed);
    if (tid == 0 || (syscall(SYS_tgkill, getpid(), tid, 0) != 0 && errno == ESRCH)) registry_->Free(i);
  }
}

}  // namespace respct::core
