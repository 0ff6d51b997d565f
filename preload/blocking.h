// How an interposed call that may block becomes a restart point: the thread
// first parks if a checkpoint is being taken, then runs the real call on its
// park fiber, so that while it sleeps in the kernel its stack holds a
// resumable context and a checkpoint can proceed without it (DESIGN §3).
// Resumed by a recovery, the call did not happen in this process: it is issued
// again. A thread holding an application lock just makes the call, flagged so
// the coordinator does not interrupt it with the stop signal for nothing.
//
// Signal handlers: these wrappers may be entered from one (read/write are
// async-signal-safe); on the fiber or inside runtime code they call straight
// through.
#pragma once

#include <utility>

#include "runtime/core/current_thread.h"
#include "runtime/core/epoch_coordinator.h"
#include "runtime/core/runtime.h"
#include "runtime/sync/lock_depth.h"

namespace respct::preload {

template <typename Call>
inline auto Blocking(Call&& call) -> decltype(call()) {
  using R = decltype(call());
  core::CurrentThread& ct = core::t_current;
  if (ct.slot == nullptr || ct.in_runtime != 0 || ct.on_fiber) return call();
  if (sync::LockDepth() != 0) {
    core::Runtime* rt = core::Runtime::Active();
    if (rt == nullptr) return call();
    auto& no_signal = rt->registry().control(ct.index).no_signal;
    no_signal.fetch_add(1, std::memory_order_relaxed);
    R r = call();
    no_signal.fetch_sub(1, std::memory_order_relaxed);
    return r;
  }
  core::EpochCoordinator::ParkIfRequested(core::kParkRestartPoint);
  struct Frame {
    Call* call;
    R result;
  } frame{&call, R{}};
  core::FiberRequest req{core::FiberRequest::kBlocking, 0,
                         [](void* p) -> long {
                           auto* f = static_cast<Frame*>(p);
                           f->result = (*f->call)();
                           return 0;
                         },
                         &frame};
  while (!core::EpochCoordinator::RunBlocking(&req)) {
  }
  return frame.result;
}

// The kernel is about to write [addr, addr+len) for the application.
inline void KernelWrites(void* addr, size_t len) {
  if (core::Runtime* rt = core::Runtime::Active()) rt->KernelWillWrite(addr, len);
}

}  // namespace respct::preload
