#include "runtime/dirty/line_differ.h"

#include <sys/mman.h>

#include <cstring>

#include "runtime/base/page.h"

namespace respct::dirty {

Result<std::unique_ptr<LineDiffer>> LineDiffer::Create(Options options) {
  if (options.compare == CompareImpl::kAuto) options.compare = BestCompareImpl();
  const ChangedLinesFn fn = ChangedLinesFor(options.compare);
  if (fn == nullptr) {
    std::string m = "line differ: this CPU lacks ";
    m += CompareImplName(options.compare);
    return Status::InvalidArgument(m);
  }
  return std::unique_ptr<LineDiffer>(new LineDiffer(options, fn));
}

LineDiffer::~LineDiffer() {
  for (const Range& r : ranges_) munmap(r.value, r.end - r.start);
}

Status LineDiffer::AddRange(void* addr, size_t len) {
  const auto start = reinterpret_cast<uintptr_t>(addr);
  std::lock_guard<std::mutex> lock(mu_);
  RESPCT_RETURN_IF_ERROR(ranges_.CheckInsertable(start, len, "line differ: AddRange"));
  void* shadow = mmap(nullptr, len, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (shadow == MAP_FAILED) return Status::FromErrno("line differ: mmap shadow", errno);
  // With THP "always", one written line would materialise 2 MiB of shadow;
  // sparse dirty sets are the point, so keep the shadow in base pages.
  madvise(shadow, len, MADV_NOHUGEPAGE);
  ranges_.Insert(start, len, static_cast<std::byte*>(shadow));
  return Status::OK();
}

Status LineDiffer::SeedShadow(const void* addr, size_t len, int fd, uint64_t file_offset) {
  const auto start = reinterpret_cast<uintptr_t>(addr);
  if (start % kPageSize != 0 || file_offset % kPageSize != 0)
    return Status::InvalidArgument("line differ: SeedShadow of an unaligned span");
  const size_t mapped = PageUp(len);
  std::lock_guard<std::mutex> lock(mu_);
  const Range* it = ranges_.FindContaining(start, mapped);
  if (it == nullptr) return Status::NotFound("line differ: SeedShadow outside the added ranges");
  if (len == 0) return Status::OK();
  void* at = it->value + (start - it->start);
  if (mmap(at, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED, fd, static_cast<off_t>(file_offset)) ==
      MAP_FAILED)
    return Status::FromErrno("line differ: mmap the image as shadow", errno);
  return Status::OK();
}

Status LineDiffer::RemoveRange(void* addr, size_t len) {
  const auto start = reinterpret_cast<uintptr_t>(addr);
  std::lock_guard<std::mutex> lock(mu_);
  const Range* it = ranges_.FindExact(start, len);
  if (it == nullptr) return Status::NotFound("line differ: RemoveRange of an unknown range");
  munmap(it->value, len);
  ranges_.Erase(it);
  return Status::OK();
}

Status LineDiffer::Stage(const Range& r, uintptr_t addr, size_t len, DiffSink* sink) {
  const auto* live = reinterpret_cast<const std::byte*>(addr);
  std::byte* shadow = r.value + (addr - r.start);
  // The sink accepts before the shadow changes, so a full sink leaves these
  // lines still different from the shadow: the restart finds them again.
  if (sink->references_shadow()) {
    if (!sink->Reference(addr, shadow, len)) {
      return Status::ResourceExhausted("line differ: staging sink is full");
    }
  } else {
    std::byte* dst = sink->Reserve(addr, len);
    if (dst == nullptr) return Status::ResourceExhausted("line differ: staging sink is full");
    std::memcpy(dst, live, len);
  }
  std::memcpy(shadow, live, len);
  stats_.bytes_shipped += len;
  ++stats_.records;
  return Status::OK();
}

Status LineDiffer::DiffLines(const Range& r, const PageRun& run, DiffSink* sink) {
  // The changed range being built; staged when the next change is not adjacent.
  uintptr_t open_addr = 0;
  size_t open_len = 0;
  for (uintptr_t page = run.addr; page < run.end(); page += kPageSize) {
    uint64_t mask = changed_(reinterpret_cast<const std::byte*>(page), r.value + (page - r.start));
    while (mask != 0) {
      const unsigned first = static_cast<unsigned>(__builtin_ctzll(mask));
      const uint64_t rest = ~(mask >> first);
      const unsigned count = rest == 0 ? 64 - first : static_cast<unsigned>(__builtin_ctzll(rest));
      const uintptr_t addr = page + first * kLineSize;
      if (open_len != 0 && open_addr + open_len == addr) {
        open_len += count * kLineSize;
      } else {
        if (open_len != 0) RESPCT_RETURN_IF_ERROR(Stage(r, open_addr, open_len, sink));
        open_addr = addr;
        open_len = count * kLineSize;
      }
      mask = first + count >= 64 ? 0 : mask & (~uint64_t{0} << (first + count));
    }
  }
  if (open_len != 0) RESPCT_RETURN_IF_ERROR(Stage(r, open_addr, open_len, sink));
  return Status::OK();
}

Status LineDiffer::Diff(const PageRun& run, DiffSink* sink) {
  std::unique_lock<std::mutex> lock(mu_, std::try_to_lock);
  if (!lock.owns_lock()) {
    return Status::Unavailable("line differ: a range is being added or removed; retry the epoch");
  }
  const Range* holder = run.pages == 0 || !IsPageAligned(run.addr)
                            ? nullptr
                            : ranges_.FindContaining(run.addr, run.pages * kPageSize);
  if (holder == nullptr) return Status::InvalidArgument("line differ: run is not inside one added range");
  const Range& r = *holder;
  if (options_.granularity == Granularity::kPage) {
    RESPCT_RETURN_IF_ERROR(Stage(r, run.addr, run.pages * kPageSize, sink));
  } else {
    RESPCT_RETURN_IF_ERROR(DiffLines(r, run, sink));
  }
  stats_.pages_dirty += run.pages;
  stats_.bytes_by_pages += run.pages * kPageSize;
  return Status::OK();
}

}  // namespace respct::dirty
