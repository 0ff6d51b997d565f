// Size classes of the persisted heap: compile-time tables, no state.
//
// Requests up to kMaxSmallSize are rounded up to one of kNumSizeClasses sizes
// and served from spans carved into equal blocks; larger requests get whole
// pages. Spacing follows mimalloc/tcmalloc: 16-byte steps up to 128 B, then
// eight classes per power of two, so the step is 1/8 of the lower bound and
// rounding wastes at most 12.5 % of a block. Every class size is a multiple of
// 16 (so every block is 16-byte aligned), and the power-of-two sizes are
// classes too, which lets Memalign serve small alignments from small classes.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace respct::heap {

// The allocation page: spans, large allocations and the page map use it.
inline constexpr unsigned kHeapPageShift = 13;
inline constexpr size_t kHeapPageSize = size_t{1} << kHeapPageShift;

inline constexpr size_t kMinAlign = 16;
inline constexpr size_t kMaxSmallSize = 32 * 1024;
inline constexpr unsigned kNumSizeClasses = 8 + 8 * 8;

// Largest number of pages a small-object span may have.
inline constexpr unsigned kMaxSpanPagesSmall = 32;

struct SizeClassTable {
  std::array<uint32_t, kNumSizeClasses> block_size{};
  // Pages per span of this class: the smallest span holding at least eight
  // blocks (so most frees do not empty a span) with at most 1/8 tail waste.
  std::array<uint8_t, kNumSizeClasses> span_pages{};
  // Blocks moved between a thread cache and the central list at a time.
  std::array<uint16_t, kNumSizeClasses> batch{};
  // ceil(2^64 / block_size): x % block_size == 0 iff x * magic <= magic - 1
  // (Lemire's divisibility test), one multiply on the free path.
  std::array<uint64_t, kNumSizeClasses> divisor_magic{};
  // Class of a request of n bytes is class_of[(n + 15) / 16].
  std::array<uint8_t, kMaxSmallSize / kMinAlign + 1> class_of{};
};

consteval SizeClassTable BuildSizeClassTable() {
  SizeClassTable t;
  unsigned c = 0;
  for (uint32_t s = 16; s <= 128; s += 16) t.block_size[c++] = s;
  for (uint32_t base = 128; base < kMaxSmallSize; base *= 2) {
    for (uint32_t i = 1; i <= 8; ++i) t.block_size[c++] = base + i * (base / 8);
  }
  for (unsigned k = 0; k < kNumSizeClasses; ++k) {
    const uint32_t size = t.block_size[k];
    unsigned pages = 1;
    while (pages < kMaxSpanPagesSmall) {
      const size_t span = pages * kHeapPageSize;
      if (span >= 8 * size && (span % size) * 8 <= span) break;
      ++pages;
    }
    t.span_pages[k] = static_cast<uint8_t>(pages);
    uint32_t batch = static_cast<uint32_t>(16 * 1024 / size);
    if (batch < 4) batch = 4;
    if (batch > 64) batch = 64;
    t.batch[k] = static_cast<uint16_t>(batch);
    t.divisor_magic[k] = UINT64_MAX / size + 1;
  }
  unsigned k = 0;
  for (size_t i = 0; i < t.class_of.size(); ++i) {
    while (t.block_size[k] < i * kMinAlign) ++k;
    t.class_of[i] = static_cast<uint8_t>(k);
  }
  return t;
}

inline constexpr SizeClassTable kSizeClasses = BuildSizeClassTable();

static_assert(kSizeClasses.block_size[kNumSizeClasses - 1] == kMaxSmallSize);
static_assert(kSizeClasses.class_of[0] == 0 && kSizeClasses.class_of[1] == 0);
static_assert(kSizeClasses.block_size[kSizeClasses.class_of[kMaxSmallSize / kMinAlign]] ==
              kMaxSmallSize);

// Class serving a request of n <= kMaxSmallSize bytes.
inline unsigned SizeClassOf(size_t n) { return kSizeClasses.class_of[(n + kMinAlign - 1) / kMinAlign]; }

// True iff offset is a multiple of the block size of class c (offset < 2^32).
inline bool IsBlockStartOffset(unsigned c, uint64_t offset) {
  const uint64_t magic = kSizeClasses.divisor_magic[c];
  return offset * magic <= magic - 1;
}

}  // namespace respct::heap
