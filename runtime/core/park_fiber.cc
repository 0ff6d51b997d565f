#include "runtime/core/park_fiber.h"

#include <boost/context/detail/fcontext.hpp>
#include <sys/mman.h>

#include <cerrno>

#include "runtime/core/current_thread.h"
#include "runtime/core/epoch_coordinator.h"

namespace respct::core {
namespace {

namespace ctx = boost::context::detail;

// Parking runs a handful of frames (futex wait, a blocking system call and
// whatever libc does inside it); 64 KiB is plenty, and a guard page below
// turns an overflow into a clean SIGSEGV instead of silent corruption.
constexpr size_t kFiberStackSize = 64 * 1024;
constexpr size_t kGuardSize = 4096;

[[noreturn]] void FiberMain(ctx::transfer_t t) {
  for (;;) {
    auto* req = static_cast<FiberRequest*>(t.data);
    // The thread's registers now sit on its own stack at t.fctx.
    t_current.slot->fctx = reinterpret_cast<uint64_t>(t.fctx);
    EpochCoordinator::ServeOnFiber(req);
    t = ctx::jump_fcontext(t.fctx, nullptr);
  }
}

}  // namespace

Status PrepareParkFiber() {
  if (t_current.fiber != nullptr) return Status::OK();
  void* mem = mmap(nullptr, kFiberStackSize + kGuardSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) return Status::FromErrno("mmap park fiber stack", errno);
  mprotect(mem, kGuardSize, PROT_NONE);
  t_current.fiber_stack = mem;
  char* top = static_cast<char*>(mem) + kGuardSize + kFiberStackSize;
  t_current.fiber = ctx::make_fcontext(top, kFiberStackSize, FiberMain);
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

}  // namespace respct::core
