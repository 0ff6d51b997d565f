// Helpers shared by the dirty-tracking tests.
#pragma once

#include <sys/mman.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <set>
#include <vector>

#include "runtime/dirty/page_run.h"
#include "runtime/dirty/staging_buffer.h"

namespace respct::dirty::testing {

// An anonymous mapping (private, or shared = shmem), unmapped on destruction.
// Never touched: every page starts unpopulated.
class Region {
 public:
  explicit Region(size_t pages, bool shared = false) : pages_(pages) {
    void* p = mmap(nullptr, pages * kPageSize, PROT_READ | PROT_WRITE,
                   (shared ? MAP_SHARED : MAP_PRIVATE) | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    base_ = p == MAP_FAILED ? nullptr : static_cast<std::byte*>(p);
    // Keep pages 4 KiB so page-exact expectations hold whatever THP is set to.
    if (base_ != nullptr) madvise(base_, size(), MADV_NOHUGEPAGE);
  }
  ~Region() {
    if (base_ != nullptr) munmap(base_, size());
  }
  Region(const Region&) = delete;
  Region& operator=(const Region&) = delete;

  std::byte* base() const { return base_; }
  uintptr_t addr() const { return reinterpret_cast<uintptr_t>(base_); }
  size_t size() const { return pages_ * kPageSize; }
  size_t pages() const { return pages_; }
  std::byte* page(size_t i) const { return base_ + i * kPageSize; }

 private:
  std::byte* base_;
  size_t pages_;
};

inline std::set<uintptr_t> PagesOf(const std::vector<PageRun>& runs) {
  std::set<uintptr_t> s;
  for (const PageRun& r : runs) {
    for (size_t i = 0; i < r.pages; ++i) s.insert(r.addr + i * kPageSize);
  }
  return s;
}

// Pages resident in [base, base+len), by mincore: an independent view of what
// is populated, to check the scan tracker against.
inline std::set<uintptr_t> ResidentPages(const std::byte* base, size_t len) {
  std::vector<unsigned char> vec(len / kPageSize);
  std::set<uintptr_t> s;
  if (mincore(const_cast<std::byte*>(base), len, vec.data()) != 0) return s;
  for (size_t i = 0; i < vec.size(); ++i) {
    if (vec[i] & 1) s.insert(reinterpret_cast<uintptr_t>(base) + i * kPageSize);
  }
  return s;
}

struct Span {
  uintptr_t addr;
  size_t len;
  bool operator==(const Span&) const = default;
  bool operator<(const Span& o) const { return addr < o.addr; }
};

// Records of a staging buffer as spans, checking each record's bytes equal
// the live memory they came from.
inline std::vector<Span> StagedSpans(const StagingBuffer& sb, bool* bytes_match) {
  std::vector<Span> out;
  *bytes_match = true;
  sb.ForEach([&](uintptr_t addr, const std::byte* bytes, size_t len) {
    out.push_back(Span{addr, len});
    if (std::memcmp(bytes, reinterpret_cast<const void*>(addr), len) != 0) *bytes_match = false;
  });
  std::sort(out.begin(), out.end());
  return out;
}

// The merged spans covering a set of 64-byte line addresses.
inline std::vector<Span> MergedLines(const std::set<uintptr_t>& lines) {
  std::vector<Span> out;
  for (uintptr_t l : lines) {
    if (!out.empty() && out.back().addr + out.back().len == l) {
      out.back().len += kLineSize;
    } else {
      out.push_back(Span{l, kLineSize});
    }
  }
  return out;
}

}  // namespace respct::dirty::testing
