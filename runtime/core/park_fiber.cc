#include "runtime/core/park_fiber.h"

#include <boost/context/detail/fcontext.hpp>
#include <sys/mman.h>

#include <cerrno>

#include "runtime/core/current_thread.h"
#include "runtime/core/restart_point.h"

namespace respct::core {
namespace {

namespace ctx = boost::context::detail;

// Parking runs a handful of frames (futex wait, a blocking system call and
// whatever libc does inside it); 64 KiB is plenty, and a guard page below
// turns an overflow into a clean SIGSEGV instead of silent corruption.
constexpr size_t kFiberStackSize = 64 * 1024;
constexpr size_t kGuardSize = 4096;

// The fiber's loop: `t` carries the request of the thread that just switched over.
[[noreturn]] void ServeRequests(ctx::transfer_t t) {
  for (;;) {
    auto* req = static_cast<FiberRequest*>(t.data);
    // The thread's registers now sit on its own stack at t.fctx.
    t_current.slot->fctx = reinterpret_cast<uint64_t>(t.fctx);
    RestartPoint::ServeOnFiber(req);
    t = ctx::jump_fcontext(t.fctx, nullptr);
  }
}

[[noreturn]] void FiberMain(ctx::transfer_t t) { ServeRequests(t); }

struct ResumeStart {
  uint64_t fctx;
  void (*restore)(void*);
  void* arg;
};

[[noreturn]] void ResumeMain(ctx::transfer_t t) {
  // The request lives on the thread's own stack, which restore overwrites.
  const ResumeStart start = *static_cast<const ResumeStart*>(t.data);
  start.restore(start.arg);
  t = ctx::jump_fcontext(reinterpret_cast<ctx::fcontext_t>(start.fctx), reinterpret_cast<void*>(kResumedAfterRecovery));
  ServeRequests(t);
}

char* FiberStackTop() { return static_cast<char*>(t_current.fiber_stack) + kGuardSize + kFiberStackSize; }

}  // namespace

Status PrepareParkFiber() {
  if (t_current.fiber != nullptr) return Status::OK();
  void* mem = mmap(nullptr, kFiberStackSize + kGuardSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) return Status::FromErrno("mmap park fiber stack", errno);
  mprotect(mem, kGuardSize, PROT_NONE);
  t_current.fiber_stack = mem;
  t_current.fiber = ctx::make_fcontext(FiberStackTop(), kFiberStackSize, FiberMain);
  return Status::OK();
}

void ReleaseParkFiber() {
  if (t_current.fiber_stack == nullptr) return;
  munmap(t_current.fiber_stack, kFiberStackSize + kGuardSize);
  t_current.fiber_stack = nullptr;
  t_current.fiber = nullptr;
}

bool SwitchToFiber(FiberRequest* req) {
  t_current.on_fiber = true;
  ctx::transfer_t back = ctx::jump_fcontext(t_current.fiber, req);
  // Whoever switched back is the fiber to use next time: the same fiber in
  // this process, a recovery's fiber in a restored one.
  t_current.fiber = back.fctx;
  t_current.on_fiber = false;
  return reinterpret_cast<uintptr_t>(back.data) == kResumedAfterRecovery;
}

void ResumeOnFiber(uint64_t fctx, void (*restore)(void*), void* arg) {
  ResumeStart start{fctx, restore, arg};
  t_current.on_fiber = true;
  ctx::fcontext_t fiber = ctx::make_fcontext(FiberStackTop(), kFiberStackSize, ResumeMain);
  ctx::jump_fcontext(fiber, &start);
  __builtin_unreachable();
}

}  // namespace respct::core
