// Which 64-byte lines of a 4 KiB page differ from its shadow: one bit per line
// in a uint64_t (bit i = bytes [64 i, 64 i + 64)). Three kernels, picked once
// with __builtin_cpu_supports; bench_granularity measures them against each
// other. Pure functions of their arguments: async-signal-safe.
#pragma once

#include <cstddef>
#include <cstdint>

namespace respct::dirty {

enum class CompareImpl { kAuto, kAvx2, kSse2, kMemcmp };

using ChangedLinesFn = uint64_t (*)(const std::byte* page, const std::byte* shadow);

// The best kernel this CPU runs (AVX2, else SSE2, which every x86-64 has).
CompareImpl BestCompareImpl();
// The kernel for `impl` (kAuto = BestCompareImpl()), or nullptr if the CPU lacks it.
ChangedLinesFn ChangedLinesFor(CompareImpl impl);
const char* CompareImplName(CompareImpl impl);

}  // namespace respct::dirty
