// Recovery simulation: a child process builds a heap at a fixed address and
// dumps the heap's written ranges to a file, as a checkpoint would; this
// process maps a fresh region at the same address, restores the bytes,
// attaches, and keeps using the heap. Addresses used: k = 50..59.
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "tests/heap/scoped_test_heap.h"

namespace respct::heap {
namespace {

constexpr size_t kReserve = size_t{2} << 30;
constexpr unsigned kPinnedSlot = 3;

struct LiveBlock {
  uintptr_t addr;
  size_t size;
  uint32_t seed;
};

unsigned char PatternByte(uint32_t seed, size_t i) {
  return static_cast<unsigned char>((seed * 2654435761u + i * 40503u) >> 13);
}

void FillPattern(const LiveBlock& b) {
  auto* p = reinterpret_cast<unsigned char*>(b.addr);
  for (size_t i = 0; i < b.size; ++i) p[i] = PatternByte(b.seed, i);
}

bool HasPattern(const LiveBlock& b) {
  const auto* p = reinterpret_cast<const unsigned char*>(b.addr);
  for (size_t i = 0; i < b.size; ++i) {
    if (p[i] != PatternByte(b.seed, i)) return false;
  }
  return true;
}

std::string ImagePath(const char* name) {
  return (::testing::TempDir() + "respct_heap_" + name + "_" + std::to_string(getpid()));
}

// Child side: build the heap, then write "checkpoint" = block list + ranges.
[[noreturn]] void BuildAndDump(void* base, const std::string& path) {
  Result<Heap*> r = Heap::Create(base, kReserve);
  if (!r.ok()) _exit(10);
  Heap* heap = r.value();
  if (!heap->BindThreadSlot(kPinnedSlot).ok()) _exit(11);
  std::mt19937 rng(42);
  std::vector<LiveBlock> live;
  for (int i = 0; i < 3000; ++i) {
    const size_t n = i % 100 == 0 ? 40000 + rng() % (3 << 20) : rng() % 2000;
    LiveBlock b{reinterpret_cast<uintptr_t>(heap->Malloc(n)), n, static_cast<uint32_t>(rng())};
    if (b.addr == 0) _exit(12);
    FillPattern(b);
    live.push_back(b);
  }
  // Free every third block so caches, span free lists and free page spans
  // all hold something in the image.
  std::vector<LiveBlock> kept;
  for (size_t i = 0; i < live.size(); ++i) {
    if (i % 3 == 0) {
      heap->Free(reinterpret_cast<void*>(live[i].addr));
    } else {
      kept.push_back(live[i]);
    }
  }
  // A second thread that still owns its slot when the image is taken.
  std::thread([&] {
    for (int i = 0; i < 50; ++i) {
      LiveBlock b{reinterpret_cast<uintptr_t>(heap->Malloc(96)), 96, static_cast<uint32_t>(i)};
      FillPattern(b);
      kept.push_back(b);
    }
    for (int i = 0; i < 30; ++i) heap->Free(heap->Malloc(300));
  }).join();

  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) _exit(13);
  const uint64_t count = kept.size();
  std::fwrite(&count, sizeof count, 1, f);
  std::fwrite(kept.data(), sizeof(LiveBlock), kept.size(), f);
  ByteRange ranges[4];
  const unsigned n = heap->WrittenRanges(ranges);
  std::fwrite(&n, sizeof n, 1, f);
  for (unsigned i = 0; i < n; ++i) {
    std::fwrite(&ranges[i], sizeof ranges[i], 1, f);
    std::fwrite(reinterpret_cast<void*>(ranges[i].begin), 1, ranges[i].length, f);
  }
  _exit(std::fclose(f) == 0 ? 0 : 14);
}

// Test side: map a fresh region at `at` and restore the image into it,
// shifted by (at - original base) to simulate a wrong address.
std::vector<LiveBlock> MapAndRestore(const std::string& path, void* original, void* at) {
  void* m = mmap(at, kReserve, PROT_READ | PROT_WRITE,
                 MAP_FIXED_NOREPLACE | MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  EXPECT_EQ(m, at);
  const uintptr_t shift = reinterpret_cast<uintptr_t>(at) - reinterpret_cast<uintptr_t>(original);
  std::FILE* f = std::fopen(path.c_str(), "rb");
  EXPECT_NE(f, nullptr);
  uint64_t count = 0;
  EXPECT_EQ(std::fread(&count, sizeof count, 1, f), 1u);
  std::vector<LiveBlock> live(count);
  EXPECT_EQ(std::fread(live.data(), sizeof(LiveBlock), count, f), count);
  unsigned n = 0;
  EXPECT_EQ(std::fread(&n, sizeof n, 1, f), 1u);
  for (unsigned i = 0; i < n; ++i) {
    ByteRange r;
    EXPECT_EQ(std::fread(&r, sizeof r, 1, f), 1u);
    EXPECT_EQ(std::fread(reinterpret_cast<void*>(r.begin + shift), 1, r.length, f), r.length);
  }
  std::fclose(f);
  return live;
}

std::string DumpInChild(unsigned k, const char* name) {
  const std::string path = ImagePath(name);
  const pid_t pid = fork();
  if (pid == 0) BuildAndDump(TestHeapAddress(k), path);
  int status = 0;
  EXPECT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child status " << status;
  return path;
}

TEST(HeapRecovery, RestoredImageAttachesAndKeepsWorking) {
  void* base = TestHeapAddress(50);
  const std::string path = DumpInChild(50, "restore");
  std::vector<LiveBlock> live = MapAndRestore(path, base, base);
  std::remove(path.c_str());

  Result<Heap*> r = Heap::Attach(base);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  Heap* heap = r.value();
  for (const LiveBlock& b : live) {
    ASSERT_TRUE(HasPattern(b)) << std::hex << b.addr;
    ASSERT_GE(heap->UsableSize(reinterpret_cast<void*>(b.addr)), b.size);
  }
  uint64_t expected_small = 0;
  for (const LiveBlock& b : live) {
    if (b.size <= kMaxSmallSize) expected_small += kSizeClasses.block_size[SizeClassOf(b.size)];
  }
  HeapStats stats;
  heap->ReadStats(&stats);
  EXPECT_EQ(stats.small_bytes_in_use, expected_small);

  // The recreated main thread takes back its slot with its cached blocks;
  // the other thread's slot is orphaned until flushed.
  ASSERT_TRUE(heap->BindThreadSlot(kPinnedSlot).ok());
  heap->FlushOrphanedThreadCaches();

  // Free half of the old blocks, allocate new ones, check nothing overlaps.
  std::vector<LiveBlock> now;
  for (size_t i = 0; i < live.size(); ++i) {
    if (i % 2 == 0) {
      heap->Free(reinterpret_cast<void*>(live[i].addr));
    } else {
      now.push_back(live[i]);
    }
  }
  std::mt19937 rng(7);
  for (int i = 0; i < 4000; ++i) {
    const size_t n = i % 200 == 0 ? 50000 + rng() % (2 << 20) : rng() % 3000;
    LiveBlock b{reinterpret_cast<uintptr_t>(heap->Malloc(n)), n, static_cast<uint32_t>(rng())};
    ASSERT_NE(b.addr, 0u);
    FillPattern(b);
    now.push_back(b);
  }
  std::map<uintptr_t, size_t> ranges;
  for (const LiveBlock& b : now) ranges[b.addr] = heap->UsableSize(reinterpret_cast<void*>(b.addr));
  ASSERT_EQ(ranges.size(), now.size()) << "a block was handed out twice";
  uintptr_t end = 0;
  for (auto [begin, len] : ranges) {
    ASSERT_GE(begin, end) << "overlapping blocks";
    end = begin + len;
  }
  for (const LiveBlock& b : now) {
    ASSERT_TRUE(HasPattern(b));
    heap->Free(reinterpret_cast<void*>(b.addr));
  }
  heap->ReleaseThreadCache();
  heap->ReadStats(&stats);
  EXPECT_EQ(stats.bytes_in_use, 0u);
  EXPECT_TRUE(Heap::Destroy(heap).ok());
}

TEST(HeapRecovery, AttachRejectsAnImageAtTheWrongAddressOrWithBadHeader) {
  void* base = TestHeapAddress(51);
  void* elsewhere = TestHeapAddress(52);
  const std::string path = DumpInChild(51, "wrongaddr");
  MapAndRestore(path, base, elsewhere);
  std::remove(path.c_str());
  Result<Heap*> r = Heap::Attach(elsewhere);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsCorruption());
  EXPECT_NE(r.status().message().find("formatted for address"), std::string::npos)
      << r.status().ToString();

  // Same image, with its version field bumped: refused with the version named.
  uint32_t* version = reinterpret_cast<uint32_t*>(static_cast<char*>(elsewhere) + 8);
  ASSERT_EQ(*version, Heap::kVersion);
  *version = 99;
  r = Heap::Attach(elsewhere);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("version 99"), std::string::npos) << r.status().ToString();
  munmap(elsewhere, kReserve);
}

}  // namespace
}  // namespace respct::heap
