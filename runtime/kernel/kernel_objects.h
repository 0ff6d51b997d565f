// KernelObjects: the kernel-object layer of one process (DESIGN §9). It owns
// the kernel region (kernel_state.h) and drives the kinds (kind_ops.h):
//
//   recording   the preload layer's interposed calls reach the kinds' Record*
//               functions through ActiveKernel(); descriptors the runtime opens
//               for itself are not the program's (runtime_fds.h);
//   capture     under the pause: the census's pending corrections, then each
//               live record's kernel-only state, then the interval timers;
//   census      between epochs, at most every kCensusIntervalNs: /proc/self/fd
//               against the table — descriptors libc opened on its own (fopen,
//               opendir, popen) are adopted, ones it closed (fclose) dropped,
//               and kinds respct cannot recreate named — and the program's
//               child processes counted. Corrections are applied at the next
//               capture, under the pause, so they never race a thread;
//   recreate    recovery, before any program thread exists: the process
//               attributes, every descriptor at its number with its flags and
//               shared open file descriptions, epoll sets last, then the
//               signal dispositions and timers; or a refusal naming what
//               cannot be brought back.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "runtime/base/status.h"
#include "runtime/kernel/fd_table.h"
#include "runtime/kernel/kind_ops.h"

namespace respct::heap {
class Heap;
}

namespace respct::kernel {

struct RecreateOptions {
  // Resume without the descriptors and children respct cannot recreate
  // (RESPCT_DROP_UNRESTORABLE), instead of refusing.
  bool drop_unrestorable = false;
  void (*trampoline)(int, siginfo_t*, void*) = nullptr;  // program handlers run through it
  std::vector<int> own_signals;                          // the runtime's: left alone
};

struct RecreateReport {
  std::string summary;                // "restored 23 fds: 4 tcp listeners, ..."
  std::vector<std::string> warnings;  // one line each
};

class KernelObjects {
 public:
  static constexpr uint64_t kCensusIntervalNs = 500'000'000;

  // A fresh run: formats the region; the descriptors open now (not the
  // runtime's) are recorded as inherited, and the working directory.
  static std::unique_ptr<KernelObjects> CreateFresh(uintptr_t base);
  // A recovery: the region holds the image's records (checked by Recreate).
  static std::unique_ptr<KernelObjects> AttachRestored(uintptr_t base);

  // Recovery, first thing in the new process, before the runtime opens a
  // descriptor of its own: `image` is the kernel region as the image holds it
  // (its first `stored` bytes). Sets the resource limits the program had, and
  // holds every descriptor number the image's records use with a placeholder
  // (replaced by Recreate), so that nothing the runtime or the program's
  // constructors open lands on one; the runtime's range goes above them all.
  static Status ReserveImageNumbers(const uint8_t* image, size_t stored);

  FdTable& table() { return table_; }
  // The persisted heap, where records keep their variable-size parts (epoll
  // lists, buffered bytes). Set once it exists.
  void set_heap(heap::Heap* heap) { heap_ = heap; }
  heap::Heap* heap() const { return heap_; }

  void CaptureUnderPause();
  void MaybeCensus(uint64_t now_ns);
  Status Recreate(const RecreateOptions& options, RecreateReport* report);

  // Highest descriptor number the records use (recovery places the
  // runtime's descriptors above it).
  int HighestRecordedFd() const;

  // `fd` is being closed by the program (before the real close): its record
  // goes, and if nothing else refers to its open file description it leaves
  // every epoll set; an epoll set's own list is freed with its last
  // descriptor. `in_handler`: a program signal handler is closing it (the
  // heap is not touched then; the list leaks).
  void RecordClose(int fd, bool in_handler);
  // dup/dup2/dup3/F_DUPFD made `to` refer to `from`'s description (what
  // `to` referred to before is closed by the same call).
  void RecordDup(int from, int to, uint32_t fd_flags, bool in_handler);

  // The scratch pipe the capture tees pipe contents into (runtime's own).
  Status OpenScratchPipe();

 private:
  explicit KernelObjects(uintptr_t base) : table_(base) {}
  struct Correction {
    int fd;
    uint32_t seq;        // the record's seq the census saw
    uint64_t inode;      // what the census found open there (0: nothing)
  };
  void ApplyCorrections();
  void Adopt(int fd);
  void CountChildren();

  FdTable table_;
  heap::Heap* heap_ = nullptr;
  int scratch_[2] = {-1, -1};
  uint64_t last_census_ns_ = 0;
  std::vector<Correction> corrections_;  // coordinator thread only
};

// Runs `connect` (the runtime connecting to its memnode) and marks the
// descriptors it made that no interposed call saw — libibverbs makes its
// event channels by ioctl — as the runtime's, so that the census never takes
// them for the program's. A descriptor the program's recorded calls make
// meanwhile is recorded, hence never marked.
template <typename Fn>
auto WithRuntimeDescriptors(Fn&& connect) -> decltype(connect());

// The process's layer while the runtime records, else null. Async-signal-safe.
KernelObjects* ActiveKernel();
void SetActiveKernel(KernelObjects* k);

// ---- implementation ----
std::vector<int> OpenDescriptors();
void MarkNewAsRuntime(const std::vector<int>& before);

template <typename Fn>
auto WithRuntimeDescriptors(Fn&& connect) -> decltype(connect()) {
  const std::vector<int> before = OpenDescriptors();
  auto result = connect();
  MarkNewAsRuntime(before);
  return result;
}

}  // namespace respct::kernel
