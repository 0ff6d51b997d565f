// The mprotect tracker's SIGSEGV handler must stay out of the way of faults
// that are not its own: chain to the handler installed before it, or die of
// SIGSEGV like an untracked program would. Each case runs in a forked child,
// and this binary never creates a tracker in the parent, so the child is the
// first to install the handler, on top of whatever the case set up.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "runtime/dirty/mprotect_tracker.h"

namespace respct::dirty {
namespace {

constexpr int kChainedExit = 42;

void PreviousHandler(int, siginfo_t* si, void*) {
  // The fault address proves the original siginfo reached us.
  _exit(si->si_code == SEGV_ACCERR ? kChainedExit : 1);
}

// Child: tracker over one region (written to prove it works), then a write to
// a read-only page nobody tracks.
[[noreturn]] void ChildFaultsOutsideTrackedRanges() {
  void* tracked = mmap(nullptr, 16 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  void* ro = mmap(nullptr, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  auto t = MprotectTracker::Open();
  if (!t.ok() || !t.value()->Track(tracked, 16 * 4096).ok()) _exit(2);
  static_cast<volatile char*>(tracked)[5] = 1;  // ours: handled, returns
  static_cast<volatile char*>(ro)[0] = 1;       // not ours
  _exit(3);
}

int RunChild(void (*setup)()) {
  const pid_t pid = fork();
  if (pid == 0) {
    const rlimit no_core{0, 0};  // the expected crash should not leave a core file
    setrlimit(RLIMIT_CORE, &no_core);
    setup();
    ChildFaultsOutsideTrackedRanges();
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return status;
}

TEST(MprotectSignalTest, ChainsToThePreviousHandler) {
  const int status = RunChild([] {
    struct sigaction sa {};
    sa.sa_sigaction = PreviousHandler;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, nullptr);
  });
  ASSERT_TRUE(WIFEXITED(status)) << "status " << status;
  EXPECT_EQ(WEXITSTATUS(status), kChainedExit);
}

TEST(MprotectSignalTest, UnhandledFaultStillKills) {
  const int status = RunChild([] {});
#if defined(__SANITIZE_ADDRESS__) || defined(RESPCT_TSAN)
  // The sanitizer's own SEGV handler was there first: it reports and exits non-zero.
  EXPECT_TRUE(WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) != 0 &&
                                      WEXITSTATUS(status) != 3));
#else
  ASSERT_TRUE(WIFSIGNALED(status)) << "status " << status;
  EXPECT_EQ(WTERMSIG(status), SIGSEGV);
#endif
}

TEST(MprotectSignalTest, KernelWillWriteLetsReadFillTrackedMemory) {
  const pid_t pid = fork();
  if (pid == 0) {
    void* tracked = mmap(nullptr, 64 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    auto t = MprotectTracker::Open();
    if (!t.ok() || !t.value()->Track(tracked, 64 * 4096).ok()) _exit(2);
    int fds[2];
    if (pipe(fds) != 0 || write(fds[1], "abcdefgh", 8) != 8) _exit(3);
    char* dst = static_cast<char*>(tracked) + 40 * 4096;
    // Without the hint the kernel refuses to write a protected page.
    if (read(fds[0], dst, 8) != -1 || errno != EFAULT) _exit(4);
    t.value()->KernelWillWrite(dst, 8);
    if (read(fds[0], dst, 8) != 8) _exit(5);
    std::vector<PageRun> runs;
    if (!t.value()->Collect(&runs).ok() || runs.size() != 1) _exit(6);
    const auto a = reinterpret_cast<uintptr_t>(dst);
    _exit(runs[0].addr <= a && a < runs[0].end() ? 0 : 7);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

}  // namespace
}  // namespace respct::dirty
