// HeldOutput: output commit (DESIGN §9). Bytes the program sends towards
// another process are accepted at once (the call returns as it would) and
// handed to the kernel only once the epoch whose state produced them is
// committed on the memnode, so no client ever sees a reply that a crash can
// take back (the output commit problem: Elnozahy et al., CSUR 2002; Remus,
// NSDI'08).
//
// Which descriptors: connected TCP and UDP sockets, unix sockets connected to
// another process, and inherited sockets, FIFOs and character devices (a
// terminal, a supervisor's pipe). Not held: regular files (a recovery puts the
// offset back and the program writes again what the lost epoch wrote), pipes
// and socketpairs the program made for itself.
//
// The epoch tag. The interposed call runs as runtime code on a running
// thread, where a capture cannot be under way (threads never park in runtime
// code), and reads `open_epoch`: the epoch whose capture will contain the
// state that produced the bytes. Checkpointer::CaptureQuiescent raises it
// under the pause, after a successful capture of epoch E, to E+1. Bytes
// tagged E go out once the replicator reports E committed.
//
// Per descriptor: a queue of segments (bytes, or a held shutdown/close) in
// order; descriptors are independent. A releaser thread writes released
// segments without blocking (MSG_DONTWAIT on sockets, poll before a write
// elsewhere) and waits for writability; a reset connection ends the queue and
// the next call of the program meets the kernel's error itself. A held close
// keeps a duplicate of the descriptor in the runtime's reserved range until
// its bytes are out, so the number is free for the program at once.
//
// Back-pressure: a descriptor holding more than `fd_bound` bytes makes the
// next call wait for room (on the park fiber: rounds, hence commits, go on
// meanwhile), non-blocking or not: the wait lasts about one commit. EAGAIN
// would be a lie the kernel never takes back: epoll and poll report the
// socket writable (its buffer is empty), so a level-triggered event loop
// would spin and an edge-triggered one would wait for an edge that never
// comes.
//
// Not async-signal-safe: a program signal handler's writes pass through
// unheld (the interposers check). Program-side calls take a per-queue spin
// lock the releaser also takes; never held across a system call.
#pragma once

#include <sys/socket.h>
#include <sys/uio.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "runtime/base/status.h"

namespace respct::kernel {
class KernelObjects;
}

namespace respct::core {

struct HeldOutputOptions {
  size_t fd_bound = 4u << 20;  // bytes one descriptor may hold before back-pressure
};

struct HeldOutputStats {
  uint64_t bytes_held = 0;     // total bytes that went through the hold
  uint64_t calls_held = 0;
  uint64_t early_epochs = 0;   // rounds asked for because output was waiting
  uint64_t waits = 0;          // calls that waited for room
  uint64_t reset = 0;          // queues ended by a write error (peer gone)
  uint64_t held_p50_ns = 0, held_p99_ns = 0, held_max_ns = 0;  // enqueue to written
  uint64_t samples = 0;
};

class HeldOutput {
 public:
  // `want_round`: asks the coordinator for a round now (called from program
  // threads, at most once per epoch).
  HeldOutput(const HeldOutputOptions& options, kernel::KernelObjects* kernel, std::function<void()> want_round);
  ~HeldOutput();
  HeldOutput(const HeldOutput&) = delete;
  HeldOutput& operator=(const HeldOutput&) = delete;

  Status Start(uint64_t open_epoch);
  // Writes out what is released (up to `drain_ms`), closes held closes, stops
  // the releaser. Idempotent.
  void Stop(int drain_ms);

  // Under the pause, after epoch `captured` was captured.
  void EpochCaptured(uint64_t captured) { open_epoch_.store(captured + 1, std::memory_order_release); }
  // Replicator thread: `epoch` and every earlier one are committed.
  void Committed(uint64_t epoch);
  // The process is exiting and its last epoch is committed (or will never
  // be): everything held may go.
  void ReleaseEverything() { Committed(~uint64_t{0} >> 1); }

  // ---- program side (interposers, as runtime code on an application thread) ----
  // Whether `fd` is held now (cached per descriptor, checked against the
  // version of its kernel record).
  bool Holds(int fd);
  // Holds the bytes of one call. Returns the call's result (bytes accepted),
  // -1 with errno (ENOBUFS: no memory for them), or kMustWait: the caller
  // must wait (WaitForRoom on the fiber) and try again.
  static constexpr ssize_t kMustWait = -2;
  ssize_t Hold(int fd, const iovec* iov, int iovcnt, const sockaddr* to, socklen_t tolen);
  // Block (the caller runs them on the park fiber) until `fd` has room, or
  // holds nothing.
  void WaitForRoom(int fd) { WaitUntil(fd, options_.fd_bound / 2); }
  void WaitForEmpty(int fd) { WaitUntil(fd, 0); }
  // close(fd) of a held descriptor with bytes waiting: keeps a duplicate
  // and queues its close. True: taken over (the caller still closes `fd`).
  bool HoldClose(int fd);
  // shutdown(fd, how) with bytes waiting: queued. True: taken over.
  bool HoldShutdown(int fd, int how);
  // Whether `fd` has bytes waiting (a call that cannot be held, such as one
  // carrying descriptors, waits for them to go first).
  bool Pending(int fd);

  HeldOutputStats Stats() const;

 private:
  struct Segment;
  struct Queue;
  enum class Class : uint8_t { kUnknown, kPass, kHold };

  Queue* QueueFor(int fd, bool create);
  static void SetKind(Queue* q);  // socket or not, stream or datagram
  void WaitUntil(int fd, size_t at_most);
  Class Classify(int fd);
  void ReleaserLoop();
  // Writes what `q` may release; false when the descriptor is not writable.
  bool Drain(Queue* q, uint64_t committed, uint64_t now_ns);
  void Wake();
  void Sample(uint64_t ns);

  const HeldOutputOptions options_;
  kernel::KernelObjects* const kernel_;
  const std::function<void()> want_round_;
  std::atomic<uint64_t> open_epoch_{1};
  std::atomic<uint64_t> committed_{0};
  std::atomic<uint64_t> round_asked_for_{0};

  // Per descriptor: class and the version of its kernel record (description
  // id and seq) it was computed for.
  struct FdInfo {
    std::atomic<uint8_t> cls{0};
    std::atomic<uint64_t> version{0};
    std::atomic<Queue*> queue{nullptr};
  };
  FdInfo* fds_ = nullptr;  // kernel::kMaxFds entries, mmap'ed (untouched pages stay unallocated)

  std::mutex active_mu_;        // the list of queues with segments
  std::vector<Queue*> active_;  // releaser and program side; queues are never freed while running
  std::vector<Queue*> all_;

  int wake_fd_ = -1;  // eventfd: commits and stop
  std::atomic<bool> stopping_{false};
  std::thread releaser_;

  mutable std::mutex stats_mu_;
  HeldOutputStats stats_;
  std::vector<uint64_t> samples_;  // held times, ns (bounded reservoir)
  uint64_t sample_seen_ = 0;
};

// The process's instance (null: output commit off, or before start).
HeldOutput* ActiveHeldOutput();
void SetActiveHeldOutput(HeldOutput* h);

}  // namespace respct::core
