#include "runtime/dirty/uffd_tracker.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "runtime/base/runtime_fds.h"
#include "runtime/dirty/pagemap.h"

namespace respct::dirty {
namespace {

constexpr int kUffdFlags = O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY;
// Output regions per PAGEMAP_SCAN call. The kernel merges adjacent pages into
// one region, so this bounds the calls per Collect to runs/1024 + 1.
constexpr size_t kScanVecLen = 1024;

std::string Errno(std::string_view what, int err) {
  std::string m(what);
  m += ": ";
  m += std::strerror(err);
  return m;
}

// A userfaultfd, by the syscall, or by /dev/userfaultfd when policy refuses the
// syscall (the device's permissions are the admin's other way to grant it).
Result<int> OpenUserfaultfd() {
  // The runtime's own descriptor, kept out of the program's way (runtime_fds.h).
  const int fd = static_cast<int>(syscall(SYS_userfaultfd, kUffdFlags));
  if (fd >= 0) return runtime_fds::Adopt(fd);
  const int err = errno;
  if (err == EPERM || err == EACCES) {
    const int dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
    if (dev >= 0) {
      const int via_dev = ioctl(dev, USERFAULTFD_IOC_NEW, kUffdFlags);
      close(dev);
      if (via_dev >= 0) return runtime_fds::Adopt(via_dev);
    }
    return Status::PermissionDenied(
        "userfaultfd: permission denied; run as root or set vm.unprivileged_userfaultfd=1");
  }
  if (err == ENOSYS) {
    return Status::FailedPrecondition(
        "userfaultfd: not available (kernel built without CONFIG_USERFAULTFD, or the syscall "
        "is filtered by seccomp)");
  }
  return Status::FromErrno("userfaultfd", err);
}

// UFFDIO_API handshake; on success returns the features the fd now has.
Result<uint64_t> Handshake(int fd, uint64_t features) {
  uffdio_api api{};
  api.api = UFFD_API;
  api.features = features;
  if (ioctl(fd, UFFDIO_API, &api) != 0) return Status::FromErrno("userfaultfd: UFFDIO_API", errno);
  return static_cast<uint64_t>(api.features);
}

}  // namespace

Status UffdTracker::CheckFeatures(uint64_t features) {
  if (!(features & UFFD_FEATURE_PAGEFAULT_FLAG_WP)) {
    return Status::FailedPrecondition(
        "uffd tracker: kernel lacks userfaultfd write-protect (UFFD_FEATURE_PAGEFAULT_FLAG_WP, "
        "needs ≥ 5.7 with CONFIG_HAVE_ARCH_USERFAULTFD_WP)");
  }
  if (!(features & UFFD_FEATURE_WP_ASYNC)) {
    return Status::FailedPrecondition(
        "uffd tracker: kernel lacks UFFD_FEATURE_WP_ASYNC (needs ≥ 6.7)");
  }
  if (!(features & UFFD_FEATURE_WP_UNPOPULATED)) {
    return Status::FailedPrecondition(
        "uffd tracker: kernel lacks UFFD_FEATURE_WP_UNPOPULATED (needs ≥ 6.4)");
  }
  return Status::OK();
}

Result<std::unique_ptr<UffdTracker>> UffdTracker::Open() {
  // UFFDIO_API may be issued once per fd: ask what the kernel offers on a
  // throw-away fd, then enable exactly what we use on the real one.
  Result<int> probe_fd = OpenUserfaultfd();
  if (!probe_fd.ok()) return probe_fd.status();
  Result<uint64_t> offered = Handshake(*probe_fd, 0);
  close(*probe_fd);
  if (!offered.ok()) return offered.status();
  RESPCT_RETURN_IF_ERROR(CheckFeatures(*offered));

  const uint64_t want = UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED |
                        (*offered & UFFD_FEATURE_WP_HUGETLBFS_SHMEM);
  Result<int> fd = OpenUserfaultfd();
  if (!fd.ok()) return fd.status();
  Result<uint64_t> got = Handshake(*fd, want);
  if (!got.ok()) {
    close(*fd);
    return got.status();
  }
  const int pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
  if (pagemap < 0) {
    const int err = errno;
    close(*fd);
    return Status::FromErrno("uffd tracker: open /proc/self/pagemap", err);
  }
  std::unique_ptr<UffdTracker> t(new UffdTracker(*fd, pagemap, *got));

  // Functional probe: the feature bits say nothing about PAGEMAP_SCAN, and a
  // tracker that silently reports nothing would lose data.
  void* scratch = mmap(nullptr, 2 * kPageSize, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (scratch == MAP_FAILED) return Status::FromErrno("uffd tracker: probe mmap", errno);
  const auto base = reinterpret_cast<uintptr_t>(scratch);
  Status st = t->Track(scratch, 2 * kPageSize);
  std::vector<PageRun> runs;
  if (st.ok()) {
    reinterpret_cast<volatile char*>(scratch)[kPageSize] = 1;
    st = t->Collect(&runs);
    if (st.ok() && !(runs.size() == 1 && runs[0] == PageRun{base + kPageSize, 1})) {
      st = Status::FailedPrecondition(
          "uffd tracker: self-test failed: PAGEMAP_SCAN did not report exactly the written page");
    }
    if (st.ok()) st = t->Untrack(scratch, 2 * kPageSize);
  }
  munmap(scratch, 2 * kPageSize);
  if (!st.ok()) return st;
  return t;
}

UffdTracker::UffdTracker(int uffd, int pagemap, uint64_t features)
    : uffd_(uffd), pagemap_(pagemap), features_(features), vec_(kScanVecLen) {}

UffdTracker::~UffdTracker() {
  // Closing the userfaultfd unregisters every range and drops the protection.
  close(uffd_);
  close(pagemap_);
}

Status UffdTracker::WriteProtect(uintptr_t start, uintptr_t end, bool protect) {
  uffdio_writeprotect wp{};
  wp.range.start = start;
  wp.range.len = end - start;
  wp.mode = protect ? UFFDIO_WRITEPROTECT_MODE_WP : 0;
  if (ioctl(uffd_, UFFDIO_WRITEPROTECT, &wp) != 0) {
    return Status::FromErrno("uffd tracker: UFFDIO_WRITEPROTECT", errno);
  }
  return Status::OK();
}

Status UffdTracker::Scan(uintptr_t start, uintptr_t end, uint64_t flags, uint64_t category_mask,
                         uint64_t category_anyof_mask, std::vector<PageRun>* out) {
  const size_t range_first = out->size();
  for (uintptr_t from = start; from < end;) {
    pm_scan_arg arg{};
    arg.size = sizeof(arg);
    arg.flags = flags;
    arg.start = from;
    arg.end = end;
    arg.vec = reinterpret_cast<uintptr_t>(vec_.data());
    arg.vec_len = vec_.size();
    arg.category_mask = category_mask;
    arg.category_anyof_mask = category_anyof_mask;
    arg.return_mask = category_mask | category_anyof_mask;
    const long n = ioctl(pagemap_, PAGEMAP_SCAN, &arg);
    if (n < 0) {
      const int err = errno;
      if (err == ENOTTY || err == EINVAL) {
        return Status::FailedPrecondition(
            Errno("uffd tracker: PAGEMAP_SCAN on /proc/self/pagemap failed (needs ≥ 6.7)", err));
      }
      if (err == EPERM) {
        return Status::FailedPrecondition(
            "uffd tracker: PAGEMAP_SCAN: a tracked range lost its async write-protect "
            "registration (unmapped or remapped while tracked?)");
      }
      return Status::FromErrno("uffd tracker: PAGEMAP_SCAN", err);
    }
    for (long i = 0; i < n; ++i) {
      const page_region& r = vec_[static_cast<size_t>(i)];
      AppendRun(out, range_first, PageRun{r.start, (r.end - r.start) / kPageSize});
    }
    if (arg.walk_end >= end) break;
    if (arg.walk_end <= from) {
      return Status::IOError("uffd tracker: PAGEMAP_SCAN made no progress");
    }
    from = arg.walk_end;  // the output buffer filled: continue where the walk stopped
  }
  return Status::OK();
}

Status UffdTracker::Track(void* addr, size_t len) {
  const auto start = reinterpret_cast<uintptr_t>(addr);
  const uintptr_t end = start + len;
  std::lock_guard<std::mutex> lock(mu_);
  RESPCT_RETURN_IF_ERROR(ranges_.CheckInsertable(start, len, "uffd tracker: Track"));

  uffdio_register reg{};
  reg.range.start = start;
  reg.range.len = len;
  reg.mode = UFFDIO_REGISTER_MODE_WP;
  if (ioctl(uffd_, UFFDIO_REGISTER, &reg) != 0) {
    return Status::FailedPrecondition(Errno(
        "uffd tracker: UFFDIO_REGISTER (range must be mapped private anonymous memory, or "
        "shmem/hugetlbfs on a kernel with UFFD_FEATURE_WP_HUGETLBFS_SHMEM)",
        errno));
  }
  auto fail = [&](Status st) {
    uffdio_range r{start, len};
    ioctl(uffd_, UFFDIO_UNREGISTER, &r);
    return st;
  };
  if (!(reg.ioctls & (1ull << _UFFDIO_WRITEPROTECT))) {
    return fail(Status::FailedPrecondition(
        "uffd tracker: kernel does not offer UFFDIO_WRITEPROTECT for this mapping"));
  }
  // Pages populated before Track hold contents the image has not seen: find
  // them, protect everything (this also plants markers on empty PTEs), then
  // unprotect the populated ones so that they read as "written" and the next
  // Collect ships them and protects them.
  scratch_.clear();
  Status st = Scan(start, end, 0, 0, PAGE_IS_PRESENT | PAGE_IS_SWAPPED, &scratch_);
  if (st.ok()) st = WriteProtect(start, end, true);
  for (size_t i = 0; st.ok() && i < scratch_.size(); ++i) {
    st = WriteProtect(scratch_[i].addr, scratch_[i].end(), false);
  }
  if (!st.ok()) return fail(st);
  ranges_.Insert(start, len);
  return Status::OK();
}

Status UffdTracker::Untrack(void* addr, size_t len) {
  const auto start = reinterpret_cast<uintptr_t>(addr);
  std::lock_guard<std::mutex> lock(mu_);
  const auto* range = ranges_.FindExact(start, len);
  if (range == nullptr) return Status::NotFound("uffd tracker: Untrack of a range not tracked");
  uffdio_range r{start, len};
  if (ioctl(uffd_, UFFDIO_UNREGISTER, &r) != 0) {
    return Status::FromErrno("uffd tracker: UFFDIO_UNREGISTER", errno);
  }
  ranges_.Erase(range);
  return Status::OK();
}

Status UffdTracker::Collect(std::vector<PageRun>* out) {
  std::unique_lock<std::mutex> lock(mu_, std::try_to_lock);
  if (!lock.owns_lock()) {
    return Status::Unavailable("uffd tracker: a range is being (un)tracked; retry the epoch");
  }
  out->clear();
  for (const auto& r : ranges_) {
    RESPCT_RETURN_IF_ERROR(Scan(r.start, r.end, PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC,
                                PAGE_IS_WRITTEN, 0, out));
  }
  return Status::OK();
}

}  // namespace respct::dirty
