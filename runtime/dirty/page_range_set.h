// PageRangeSet: the page-aligned address ranges a dirty tracker watches or the
// line differ shadows, kept sorted by start and never overlapping, each with a
// value of its owner's (the differ's shadow mapping, the mprotect tracker's
// fault-table slot). One home for the checks every owner needs on
// Track/AddRange (non-empty, page-aligned, no wrap, no overlap) and for the
// lookups of Untrack/RemoveRange (exact match) and Diff (the range holding a
// run).
//
// Not thread-safe: each owner serialises it under its own mutex. Track-time
// only; the collect path just iterates. Insert allocates (std::vector), so a
// signal handler must not call it.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "runtime/base/status.h"
#include "runtime/dirty/page_run.h"

namespace respct::dirty {

struct NoValue {};

template <typename Value = NoValue>
class PageRangeSet {
 public:
  struct Entry {
    uintptr_t start, end;
    Value value;
    size_t size() const { return end - start; }
  };
  using const_iterator = typename std::vector<Entry>::const_iterator;

  // OK if [start, start+len) may be inserted: non-empty, page-aligned, not
  // wrapping past the top of the address space, and overlapping no range of
  // the set. `who` names the owner and the call in the message ("uffd
  // tracker: Track"). Owners that must do fallible work between the check
  // and the insertion (registering with the kernel) call this first.
  Status CheckInsertable(uintptr_t start, size_t len, std::string_view who) const {
    const uintptr_t end = start + len;
    if (len == 0 || !IsPageAligned(start) || !IsPageAligned(len) || end < start)
      return Status::InvalidArgument(std::string(who) + " needs a non-empty page-aligned range");
    const auto pos = LowerBound(start);
    if ((pos != entries_.end() && pos->start < end) || (pos != entries_.begin() && (pos - 1)->end > start))
      return Status::InvalidArgument(std::string(who) + " of a range that overlaps one already there");
    return Status::OK();
  }

  // Inserts a range CheckInsertable accepted.
  void Insert(uintptr_t start, size_t len, Value value = Value{}) {
    entries_.insert(LowerBound(start), Entry{start, start + len, std::move(value)});
  }

  // The entry that is exactly [start, start+len), or nullptr.
  const Entry* FindExact(uintptr_t start, size_t len) const {
    const auto pos = LowerBound(start);
    return pos != entries_.end() && pos->start == start && pos->end == start + len ? &*pos : nullptr;
  }

  // The entry whose range holds all of [addr, addr+len) (len may be 0: the
  // entry holding addr), or nullptr.
  const Entry* FindContaining(uintptr_t addr, size_t len) const {
    const auto after = std::upper_bound(entries_.begin(), entries_.end(), addr,
                                        [](uintptr_t a, const Entry& e) { return a < e.start; });
    if (after == entries_.begin()) return nullptr;
    const Entry& e = *(after - 1);
    return addr < e.end && len <= e.end - addr ? &e : nullptr;
  }

  // Removes an entry FindExact or FindContaining returned.
  void Erase(const Entry* e) { entries_.erase(entries_.begin() + (e - entries_.data())); }

  const_iterator begin() const { return entries_.begin(); }
  const_iterator end() const { return entries_.end(); }
  size_t count() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }

 private:
  typename std::vector<Entry>::const_iterator LowerBound(uintptr_t start) const {
    return std::lower_bound(entries_.begin(), entries_.end(), start,
                            [](const Entry& e, uintptr_t s) { return e.start < s; });
  }

  std::vector<Entry> entries_;  // sorted by start, pairwise disjoint
};

}  // namespace respct::dirty
