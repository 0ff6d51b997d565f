#include "runtime/dirty/line_compare.h"

#include <immintrin.h>

#include <cstring>

#include "runtime/dirty/page_run.h"

namespace respct::dirty {
namespace {

// Both pointers are page-aligned, so aligned loads are safe.

__attribute__((target("avx2"))) uint64_t ChangedLinesAvx2(const std::byte* page,
                                                          const std::byte* shadow) {
  uint64_t mask = 0;
  for (size_t i = 0; i < kLinesPerPage; ++i) {
    const auto* a = reinterpret_cast<const __m256i*>(page + i * kLineSize);
    const auto* b = reinterpret_cast<const __m256i*>(shadow + i * kLineSize);
    const __m256i x = _mm256_or_si256(_mm256_xor_si256(_mm256_load_si256(a), _mm256_load_si256(b)),
                                      _mm256_xor_si256(_mm256_load_si256(a + 1),
                                                       _mm256_load_si256(b + 1)));
    mask |= static_cast<uint64_t>(!_mm256_testz_si256(x, x)) << i;
  }
  return mask;
}

uint64_t ChangedLinesSse2(const std::byte* page, const std::byte* shadow) {
  uint64_t mask = 0;
  const __m128i zero = _mm_setzero_si128();
  for (size_t i = 0; i < kLinesPerPage; ++i) {
    const auto* a = reinterpret_cast<const __m128i*>(page + i * kLineSize);
    const auto* b = reinterpret_cast<const __m128i*>(shadow + i * kLineSize);
    const __m128i x = _mm_or_si128(
        _mm_or_si128(_mm_xor_si128(_mm_load_si128(a), _mm_load_si128(b)),
                     _mm_xor_si128(_mm_load_si128(a + 1), _mm_load_si128(b + 1))),
        _mm_or_si128(_mm_xor_si128(_mm_load_si128(a + 2), _mm_load_si128(b + 2)),
                     _mm_xor_si128(_mm_load_si128(a + 3), _mm_load_si128(b + 3))));
    const bool same = _mm_movemask_epi8(_mm_cmpeq_epi8(x, zero)) == 0xFFFF;
    mask |= static_cast<uint64_t>(!same) << i;
  }
  return mask;
}

uint64_t ChangedLinesMemcmp(const std::byte* page, const std::byte* shadow) {
  uint64_t mask = 0;
  for (size_t i = 0; i < kLinesPerPage; ++i) {
    mask |= static_cast<uint64_t>(std::memcmp(page + i * kLineSize, shadow + i * kLineSize,
                                              kLineSize) != 0)
            << i;
  }
  return mask;
}

}  // namespace

CompareImpl BestCompareImpl() {
  return __builtin_cpu_supports("avx2") ? CompareImpl::kAvx2 : CompareImpl::kSse2;
}

ChangedLinesFn ChangedLinesFor(CompareImpl impl) {
  switch (impl) {
    case CompareImpl::kAuto: return ChangedLinesFor(BestCompareImpl());
    case CompareImpl::kAvx2: return __builtin_cpu_supports("avx2") ? ChangedLinesAvx2 : nullptr;
    case CompareImpl::kSse2: return ChangedLinesSse2;
    case CompareImpl::kMemcmp: return ChangedLinesMemcmp;
  }
  return nullptr;
}

const char* CompareImplName(CompareImpl impl) {
  switch (impl) {
    case CompareImpl::kAuto: return "auto";
    case CompareImpl::kAvx2: return "avx2";
    case CompareImpl::kSse2: return "sse2";
    case CompareImpl::kMemcmp: return "memcmp";
  }
  return "unknown";
}

}  // namespace respct::dirty
