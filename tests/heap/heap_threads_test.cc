// Concurrency of Heap: a multi-threaded stress with cross-thread frees and an
// overlap check, thread cache release at thread exit, slot binding.
// Addresses used: k = 20..29.
#include <algorithm>
#include <atomic>
#include <cstring>
#include <map>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "tests/heap/scoped_test_heap.h"

namespace respct::heap {
namespace {

struct Block {
  unsigned char* p;
  size_t n;
  unsigned char tag;
};

void Fill(const Block& b) {
  if (b.p != nullptr) std::memset(b.p, b.tag, b.n);  // Realloc(p, 0) leaves nullptr
}

// Every byte equals the tag: the first does, and each equals its successor.
bool Intact(const Block& b) {
  return b.n == 0 || (b.p[0] == b.tag && std::memcmp(b.p, b.p + 1, b.n - 1) == 0);
}

size_t RandomSize(std::mt19937_64& rng) {
  const unsigned r = rng() % 100;
  if (r < 70) return rng() % 256;
  if (r < 98) return rng() % 32768;
  return 32768 + rng() % (1 << 20);
}

// Eight threads allocate, reallocate and free at random; a shared mailbox
// hands blocks to other threads, which verify and free them. Every block is
// pattern-filled and checked before it is freed, so any overlap or lost byte
// shows up as a pattern mismatch.
TEST(HeapThreads, EightThreadStressWithCrossThreadFrees) {
  ScopedTestHeap heap(20);
  constexpr int kThreads = 8;
  constexpr int kOps = 12000;
  std::mutex mailbox_mu;
  std::vector<Block> mailbox;
  std::atomic<int> failures{0};
  auto worker = [&](int id) {
    std::mt19937_64 rng(id * 7919 + 1);
    std::vector<Block> mine;
    for (int op = 0; op < kOps; ++op) {
      const unsigned r = rng() % 100;
      if (r < 45 || mine.empty()) {
        Block b{nullptr, RandomSize(rng), static_cast<unsigned char>(rng())};
        b.p = static_cast<unsigned char*>(rng() % 8 == 0 ? heap->Calloc(1, b.n) : heap->Malloc(b.n));
        if (b.p == nullptr || heap->UsableSize(b.p) < b.n) ++failures;
        Fill(b);
        mine.push_back(b);
      } else if (r < 65) {
        const size_t i = rng() % mine.size();
        Block& b = mine[i];
        const size_t n = RandomSize(rng);
        auto* q = static_cast<unsigned char*>(heap->Realloc(b.p, n));
        b.p = q;
        b.n = std::min(n, b.n);
        if (!Intact(b)) ++failures;
        b.n = n;
        Fill(b);
      } else if (r < 80) {
        const size_t i = rng() % mine.size();
        std::lock_guard<std::mutex> lock(mailbox_mu);
        mailbox.push_back(mine[i]);
        mine[i] = mine.back();
        mine.pop_back();
      } else {
        Block b;
        {
          std::lock_guard<std::mutex> lock(mailbox_mu);
          if (!mailbox.empty() && rng() % 2 == 0) {
            b = mailbox.back();
            mailbox.pop_back();
          } else {
            const size_t i = rng() % mine.size();
            b = mine[i];
            mine[i] = mine.back();
            mine.pop_back();
          }
        }
        if (!Intact(b)) ++failures;
        heap->Free(b.p);
      }
    }
    for (const Block& b : mine) {
      if (!Intact(b)) ++failures;
    }
    std::lock_guard<std::mutex> lock(mailbox_mu);
    mailbox.insert(mailbox.end(), mine.begin(), mine.end());
  };
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) threads.emplace_back(worker, i);
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);

  // No two live blocks overlap.
  std::map<uintptr_t, size_t> ranges;
  for (const Block& b : mailbox) {
    if (b.p == nullptr) continue;
    ranges[reinterpret_cast<uintptr_t>(b.p)] = heap->UsableSize(b.p);
  }
  uintptr_t end = 0;
  for (auto [begin, len] : ranges) {
    EXPECT_GE(begin, end) << "overlapping blocks";
    end = begin + len;
  }
  for (const Block& b : mailbox) {
    EXPECT_TRUE(Intact(b));
    heap->Free(b.p);
  }
  HeapStats stats;
  heap->ReadStats(&stats);
  EXPECT_EQ(stats.bytes_in_use, 0u);
}

TEST(HeapThreads, ReleaseThreadCacheReturnsBlocksAndSlot) {
  ScopedTestHeap heap(21);
  const unsigned c = SizeClassOf(64);
  int slot = -2;
  std::thread t([&] {
    std::vector<void*> v;
    for (int i = 0; i < 100; ++i) v.push_back(heap->Malloc(64));
    for (void* p : v) heap->Free(p);
    slot = heap->CurrentThreadSlot();
    heap->ReleaseThreadCache();
    EXPECT_EQ(heap->CurrentThreadSlot(), -1);
    // Calls after the release (glibc's exit path frees after the runtime's
    // hook) work without claiming a slot again.
    void* late = heap->Malloc(64);
    EXPECT_NE(late, nullptr);
    heap->Free(late);
    EXPECT_EQ(heap->CurrentThreadSlot(), -1);
  });
  t.join();
  ASSERT_GE(slot, 0);
  // The released slot is free again: this thread can take it explicitly.
  ASSERT_TRUE(heap->BindThreadSlot(static_cast<unsigned>(slot)).ok());
  EXPECT_EQ(heap->CurrentThreadSlot(), slot);
  HeapStats stats;
  heap->ReadStats(&stats);
  EXPECT_EQ(stats.classes[c].blocks_in_use, 0u);
  // All blocks went back to their spans: only the one span kept per class.
  EXPECT_EQ(stats.classes[c].spans, 1u);
  heap->ReleaseThreadCache();
}

TEST(HeapThreads, BindThreadSlotPinsAndRefusesOwnedSlots) {
  ScopedTestHeap heap(22);
  ASSERT_TRUE(heap->BindThreadSlot(7).ok());
  EXPECT_EQ(heap->CurrentThreadSlot(), 7);
  void* p = heap->Malloc(40);
  std::thread t([&] {
    Status st = heap->BindThreadSlot(7);
    EXPECT_FALSE(st.ok());
    EXPECT_NE(st.message().find("owned by another thread"), std::string::npos);
    EXPECT_TRUE(heap->BindThreadSlot(8).ok());
    EXPECT_EQ(heap->CurrentThreadSlot(), 8);
    heap->Free(p);  // cross-thread free
    heap->ReleaseThreadCache();
  });
  t.join();
  EXPECT_FALSE(heap->BindThreadSlot(Heap::kNumThreadSlots).ok());
  // Moving to another slot releases the old one.
  ASSERT_TRUE(heap->BindThreadSlot(9).ok());
  EXPECT_TRUE(heap->BindThreadSlot(7).ok());
  heap->ReleaseThreadCache();
}

TEST(HeapThreads, ManyShortLivedThreadsReuseSlots) {
  ScopedTestHeap heap(23);
  // More threads in total than slots, so slots must be reused.
  for (unsigned round = 0; round < Heap::kNumThreadSlots / 8 + 16; ++round) {
    std::vector<std::thread> threads;
    for (int i = 0; i < 8; ++i) {
      threads.emplace_back([&] {
        void* p = heap->Malloc(128);
        heap->Free(p);
        heap->ReleaseThreadCache();
      });
    }
    for (auto& t : threads) t.join();
  }
  HeapStats stats;
  heap->ReadStats(&stats);
  EXPECT_EQ(stats.bytes_in_use, 0u);
}

TEST(HeapThreads, ThreadsBeyondTheSlotTableStillWork) {
  ScopedTestHeap heap(24);
  // Occupy every slot with threads that do not release them, then allocate
  // from a further thread, which must fall back to the central lists.
  std::atomic<int> bound{0};
  std::atomic<bool> release{false};
  std::vector<std::thread> holders;
  for (unsigned i = 0; i < Heap::kNumThreadSlots; ++i) {
    holders.emplace_back([&, i] {
      EXPECT_TRUE(heap->BindThreadSlot(i).ok());
      ++bound;
      while (!release.load()) std::this_thread::yield();
      heap->ReleaseThreadCache();
    });
    if (holders.size() % 64 == 0) {
      while (bound.load() < static_cast<int>(holders.size())) std::this_thread::yield();
    }
  }
  while (bound.load() < static_cast<int>(Heap::kNumThreadSlots)) std::this_thread::yield();
  std::thread extra([&] {
    std::vector<void*> v;
    for (int i = 0; i < 1000; ++i) v.push_back(heap->Malloc(24));
    EXPECT_EQ(heap->CurrentThreadSlot(), -1);
    HeapStats stats;
    heap->ReadStats(&stats);
    EXPECT_EQ(stats.classes[SizeClassOf(24)].blocks_in_use, 1000u);
    for (void* p : v) heap->Free(p);
  });
  extra.join();
  release = true;
  for (auto& t : holders) t.join();
  HeapStats stats;
  heap->ReadStats(&stats);
  EXPECT_EQ(stats.bytes_in_use, 0u);
}

}  // namespace
}  // namespace respct::heap
