// The thread table: one persisted ThreadSlot per application thread, in the
// meta region, so a checkpoint captures every thread's state together with
// the memory it runs on.
//
// A slot's `state` is the handshake between a thread and the epoch
// coordinator (see epoch_coordinator.h):
//
//   kFree ──create──▶ kStarting ──trampoline──▶ kRunning ◀──▶ kParked
//                         │                       │  ▲
//                         ▼ (checkpoint)          ▼  │ (blocking op ends)
//                    kFrozenStarting          kBlocked ──checkpoint──▶ kFrozen
//                                                 ...  kRunning ──exit──▶ kExited
//
// Only kParked, kBlocked/kFrozen and kFrozenStarting slots are quiescent; in
// the first two the thread's registers sit on its own stack at `fctx` (a
// Boost.Context fcontext), so its stack from `fctx` up to `entry_sp` is all a
// restore needs. Transient, per-process data (kernel tid, futex words) lives
// outside the region in SlotControl.
//
// Layout of a ThreadSlot (persisted; 8-byte fields, little-endian):
//   state, flags           SlotState, SlotFlags
//   start_routine, arg     what pthread_create was given
//   retval                 pthread_exit value of an exited, unjoined thread
//   fctx                   saved context (valid in kParked/kBlocked/kFrozen)
//   stack_lo, stack_hi     the slot's stack
//   entry_sp               stack pointer at the thread wrapper's entry: the
//                          restore range is [fctx, entry_sp); above it lie
//                          glibc's start frame, static TLS and the TCB
//   tcb                    pthread_self() (same in every process: it depends
//                          only on the stack address and static TLS size)
//   saved_errno, park_kind, parked_epoch
//   lock_depth             application locks held when it parked (restored
//                          with the thread: a thread may park holding locks)
//   tls_size, tls_image    copy of the executable's static TLS block
//   sigmask, name          signal mask and thread name, set again on resume
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace respct::core {

enum SlotState : uint32_t {
  kSlotFree = 0,
  kSlotStarting = 1,
  kSlotRunning = 2,
  kSlotParked = 3,
  kSlotBlocked = 4,
  kSlotFrozen = 5,          // blocked, and a checkpoint counts on it staying so
  kSlotFrozenStarting = 6,  // not started yet, and a checkpoint is running
  kSlotExited = 7,
};

enum SlotFlags : uint32_t {
  kSlotMain = 1u << 0,
  kSlotDetached = 1u << 1,
};

enum ParkKind : uint32_t {
  kParkNone = 0,
  kParkRestartPoint = 1,  // at a lock boundary or thread start
  kParkSignal = 2,        // stopped by the coordinator's signal in program code
  kParkBlocking = 3,      // inside a blocking operation run on its fiber
  kParkSyscall = 4,       // stopped by the signal at a system-call boundary in libc
};

inline constexpr size_t kTlsImageMax = 2048;

struct ThreadSlot {
  uint32_t state;
  uint32_t flags;
  uint64_t start_routine;
  uint64_t arg;
  uint64_t retval;
  uint64_t fctx;
  uint64_t stack_lo;
  uint64_t stack_hi;
  uint64_t entry_sp;
  uint64_t tcb;
  int32_t saved_errno;
  uint32_t park_kind;
  uint64_t parked_epoch;
  uint32_t lock_depth;
  uint32_t reserved;
  uint64_t tls_addr;
  uint32_t tls_size;
  uint32_t index;
  uint64_t sigmask[2];  // the thread's signal mask as the program set it (signals 1..128)
  char name[16];        // pthread_setname_np
  uint8_t tls_image[kTlsImageMax];

  std::atomic_ref<uint32_t> state_ref() { return std::atomic_ref<uint32_t>(state); }
  SlotState load_state(std::memory_order mo = std::memory_order_acquire) {
    return static_cast<SlotState>(state_ref().load(mo));
  }
};
static_assert(sizeof(ThreadSlot) % 8 == 0);

// Per-process companion of a slot: never persisted.
struct SlotControl {
  std::atomic<int32_t> tid{0};             // kernel tid, for the stop signal
  std::atomic<uint32_t> park_gen{0};       // round in which the thread parked
  std::atomic<uint64_t> last_signal_ns{0}; // when the stop signal was last sent
  // What the stop-signal handler saw when it did not park the thread (for
  // the stall report): how often it ran, why it refused (StopRefusal) and
  // the interrupted program counter. Written by the handler only.
  std::atomic<uint32_t> stop_answers{0};
  std::atomic<uint32_t> refusal{0};
  std::atomic<uint64_t> refusal_pc{0};
  // The span [kernel_write_lo, kernel_write_hi) the kernel may write for the
  // thread's current blocking call (read into a buffer, ...), 0/0: none. A
  // tracker that write-protects pages (mprotect) must leave it open at every
  // collect while the call blocks (Checkpointer::KeepKernelWritesOpen).
  std::atomic<uint64_t> kernel_write_lo{0};
  std::atomic<uint64_t> kernel_write_hi{0};
  // The current round, as the coordinator counts it: stop signals sent, and
  // stop_answers when the round began.
  uint32_t round_signals = 0;
  uint32_t round_answers_base = 0;
};

bool IsQuiescent(SlotState s);
// "parked", "frozen-starting", ... for messages and tools; nullptr for a
// value that is no SlotState (a damaged slot).
const char* SlotStateName(uint32_t s);

}  // namespace respct::core
