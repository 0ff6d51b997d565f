#include "runtime/kernel/memfd.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace respct::kernel {
namespace {

void Capture(CaptureContext& ctx, int fd, FdRecord* r) {
  MemFdRecord* m = r->As<MemFdRecord>();
  struct stat st {};
  if (fstat(fd, &st) != 0) return;
  m->size = static_cast<uint64_t>(st.st_size);
  const int seals = fcntl(fd, F_GET_SEALS);
  m->seals = seals > 0 ? static_cast<uint32_t>(seals) : 0;
  m->too_large = m->size > kMaxMemFdBytes ? 1 : 0;
  m->contents.length = 0;
  if (m->too_large != 0 || m->size == 0 || !ctx.Reserve(&m->contents, m->size)) return;
  const ssize_t got = pread(fd, reinterpret_cast<void*>(m->contents.data), m->size, 0);
  if (got > 0) m->contents.length = static_cast<uint32_t>(got);
}

Status Recreate(RecreateContext&, const FdRecord* const* members, int count, int* new_fds) {
  const MemFdRecord* m = members[0]->As<MemFdRecord>();
  if (m->too_large != 0)
    return Status::FailedPrecondition("memfd '" + std::string(m->name) + "' held " + FormatBytes(m->size) +
                                      ", more than respct keeps of one (" + FormatBytes(kMaxMemFdBytes) + ")");
  const int fd = memfd_create(m->name, (m->flags & ~MFD_CLOEXEC) | MFD_CLOEXEC);
  if (fd < 0) return Status::FromErrno("memfd_create", errno);
  auto fail = [&](const char* what) {
    const int err = errno;
    close(fd);
    return Status::FromErrno(what, err);
  };
  if (ftruncate(fd, static_cast<off_t>(m->size)) != 0) return fail("memfd: restore its size");
  if (m->contents.length != 0 &&
      pwrite(fd, reinterpret_cast<const void*>(m->contents.data), m->contents.length, 0) !=
          static_cast<ssize_t>(m->contents.length))
    return fail("memfd: restore its contents");
  // A memfd made without MFD_ALLOW_SEALING reports F_SEAL_SEAL, which the
  // kernel set at its creation (and so did it on the new one): only the seals
  // the new memfd lacks are added.
  const int have = fcntl(fd, F_GET_SEALS);
  const int add = static_cast<int>(m->seals) & ~(have > 0 ? have : 0);
  if (add != 0 && fcntl(fd, F_ADD_SEALS, add) != 0) return fail("memfd: seal");
  for (int i = 0; i < count; ++i) new_fds[i] = fd;
  return Status::OK();
}

std::string Describe(const FdRecord& r) {
  const MemFdRecord* m = r.As<MemFdRecord>();
  return "memfd '" + std::string(m->name) + "' " + FormatBytes(m->size) + (m->too_large ? " (too large to keep)" : "");
}

}  // namespace

void RecordMemFd(FdTable* table, int fd, const char* name, unsigned flags) {
  struct stat st {};
  FdRecord* r = table->Begin(fd);
  if (r == nullptr) return;
  MemFdRecord* m = r->As<MemFdRecord>();
  std::strncpy(m->name, name != nullptr ? name : "", sizeof m->name - 1);
  m->flags = flags;
  r->status_flags = O_RDWR;
  r->fd_flags = (flags & MFD_CLOEXEC) != 0 ? FD_CLOEXEC : 0;
  r->description = table->NewId();
  r->object = r->description;
  r->inode = fstat(fd, &st) == 0 ? st.st_ino : 0;
  r->kind = FdKind::kMemFd;
  table->Commit(r);
}

extern const KindOps kMemFdOps = {FdKind::kMemFd, 0, Capture, Recreate, Describe};

}  // namespace respct::kernel
