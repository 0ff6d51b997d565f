// MissedWrites: the bytes a replica did not receive while it was out of the
// write quorum, as a set of address ranges, so that catching it up sends
// those bytes only (Replicator::CatchUp). Ranges are merged as they come;
// past kMaxRanges distinct ranges the set gives up (valid() false) and the
// catch-up asks another replica's log, or copies the whole image.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <map>

#include "runtime/dirty/staging_buffer.h"

namespace respct::core {

class MissedWrites {
 public:
  static constexpr size_t kMaxRanges = 1u << 16;

  // Starts over: the replica holds everything up to `epoch`.
  void Reset(uint64_t epoch) {
    ranges_.clear();
    since_ = epoch;
    valid_ = true;
  }
  // Nothing is known of what the replica lacks.
  void Invalidate() {
    ranges_.clear();
    valid_ = false;
  }
  void Add(uintptr_t addr, size_t len) {
    if (!valid_ || len == 0) return;
    uintptr_t begin = addr, end = addr + len;
    auto it = ranges_.upper_bound(begin);
    if (it != ranges_.begin()) {
      auto prev = std::prev(it);
      if (prev->second >= begin) {
        begin = prev->first;
        end = end > prev->second ? end : prev->second;
        it = ranges_.erase(prev);
      }
    }
    while (it != ranges_.end() && it->first <= end) {
      end = end > it->second ? end : it->second;
      it = ranges_.erase(it);
    }
    ranges_.emplace(begin, end);
    if (ranges_.size() > kMaxRanges) Invalidate();
  }

  // Every range of a staged epoch.
  void AddStaged(const dirty::StagingBuffer& staged) {
    staged.ForEach([this](uintptr_t addr, const std::byte*, size_t len) { Add(addr, len); });
  }

  bool valid() const { return valid_; }
  // The epoch the replica held when the set started.
  uint64_t since() const { return since_; }
  // begin -> end, disjoint, not touching, in address order.
  const std::map<uintptr_t, uintptr_t>& ranges() const { return ranges_; }

 private:
  std::map<uintptr_t, uintptr_t> ranges_;
  uint64_t since_ = 0;
  bool valid_ = false;
};

}  // namespace respct::core
