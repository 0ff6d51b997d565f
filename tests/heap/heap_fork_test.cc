// fork() with the PrepareFork/ParentAfterFork/ChildAfterFork protocol: both
// processes keep allocating, including while other threads hammer the heap
// across the fork. Addresses used: k = 30..34.
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <thread>
#include <vector>

#include "tests/heap/scoped_test_heap.h"

namespace respct::heap {
namespace {

// Allocates, checks and frees a mix of sizes; returns false on a mismatch.
bool Churn(Heap* heap, int rounds) {
  std::vector<std::pair<unsigned char*, size_t>> v;
  for (int r = 0; r < rounds; ++r) {
    const size_t n = r % 50 == 0 ? (r * 131) % 70000 : (r * 131) % 2000;
    auto* p = static_cast<unsigned char*>(heap->Malloc(n));
    if (p == nullptr) return false;
    std::memset(p, r & 0xff, n);
    v.emplace_back(p, n);
  }
  bool ok = true;
  for (int r = 0; r < rounds; ++r) {
    auto [p, n] = v[r];
    for (size_t i = 0; i < n; i += 61) ok = ok && p[i] == (r & 0xff);
    heap->Free(p);
  }
  return ok;
}

TEST(HeapFork, ChildAndParentBothAllocateAfterFork) {
  ScopedTestHeap heap(30);
  std::atomic<bool> stop{false};
  std::vector<std::thread> busy;
  for (int i = 0; i < 3; ++i) {
    busy.emplace_back([&] {
      while (!stop.load()) Churn(heap.get(), 200);
      heap->ReleaseThreadCache();
    });
  }
  void* before = heap->Malloc(1000);
  std::memset(before, 0x5a, 1000);
  for (int round = 0; round < 10; ++round) {
    heap->PrepareFork();
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      heap->ChildAfterFork();
      bool ok = Churn(heap.get(), 2000);
      auto* b = static_cast<unsigned char*>(before);
      for (int i = 0; i < 1000; ++i) ok = ok && b[i] == 0x5a;
      heap->Free(before);
      _exit(ok ? 0 : 1);
    }
    heap->ParentAfterFork();
    EXPECT_TRUE(Churn(heap.get(), 2000));
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child status " << status;
  }
  stop = true;
  for (auto& t : busy) t.join();
  heap->Free(before);
}

}  // namespace
}  // namespace respct::heap
