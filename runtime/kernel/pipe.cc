#include "runtime/kernel/pipe.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace respct::kernel {
namespace {

// Reads and discards what is left in the scratch pipe.
void DrainScratch(CaptureContext& ctx) {
  std::byte sink[4096];
  while (read(ctx.scratch_read, sink, sizeof sink) > 0) {
  }
}

// Copies the `n` bytes buffered in the pipe whose read end is `fd` into `out`
// without consuming them: one tee(2) into the scratch pipe (as large as any
// pipe can be, and empty between captures), then a read of all of it.
bool PeekPipe(CaptureContext& ctx, int fd, size_t n, std::byte* out) {
  const ssize_t t = tee(fd, ctx.scratch_write, n, SPLICE_F_NONBLOCK);
  if (t != static_cast<ssize_t>(n)) {
    if (t > 0) DrainScratch(ctx);
    return false;
  }
  size_t got = 0;
  while (got < n) {
    const ssize_t r = read(ctx.scratch_read, out + got, n - got);
    if (r <= 0) break;
    got += static_cast<size_t>(r);
  }
  if (got != n) DrainScratch(ctx);
  return got == n;
}

void Capture(CaptureContext& ctx, int fd, FdRecord* r) {
  PipeRecord* p = r->As<PipeRecord>();
  if (p->end != 0) return;
  int n = 0;
  p->buffered.length = 0;
  if (ioctl(fd, FIONREAD, &n) != 0 || n <= 0) return;
  if (!ctx.Reserve(&p->buffered, static_cast<size_t>(n))) return;
  if (PeekPipe(ctx, fd, static_cast<size_t>(n), reinterpret_cast<std::byte*>(p->buffered.data)))
    p->buffered.length = static_cast<uint32_t>(n);
}

Status Recreate(RecreateContext&, const FdRecord* const* members, int count, int* new_fds) {
  int ends[2];
  if (pipe2(ends, O_CLOEXEC) != 0) return Status::FromErrno("pipe2", errno);
  const PipeRecord* any = members[0]->As<PipeRecord>();
  if (any->capacity != 0) fcntl(ends[1], F_SETPIPE_SZ, static_cast<int>(any->capacity));
  bool have[2] = {false, false};
  for (int i = 0; i < count; ++i) {
    const PipeRecord* p = members[i]->As<PipeRecord>();
    have[p->end] = true;
    new_fds[i] = ends[p->end];
    if (p->end == 0 && p->buffered.length != 0) {
      const auto* bytes = reinterpret_cast<const std::byte*>(p->buffered.data);
      size_t done = 0;
      while (done < p->buffered.length) {
        const ssize_t w = write(ends[1], bytes + done, p->buffered.length - done);
        if (w <= 0) {
          close(ends[0]);
          close(ends[1]);
          return Status::FromErrno("refill a pipe with its buffered bytes", errno);
        }
        done += static_cast<size_t>(w);
      }
    }
  }
  for (int e = 0; e < 2; ++e)
    if (!have[e]) close(ends[e]);
  return Status::OK();
}

std::string Describe(const FdRecord& r) {
  const PipeRecord* p = r.As<PipeRecord>();
  std::string s = p->end == 0 ? "pipe read end" : "pipe write end";
  s += " #" + std::to_string(r.object);
  if (p->end == 0 && p->buffered.length != 0) s += " (" + FormatBytes(p->buffered.length) + " buffered)";
  return s;
}

void FillEnd(FdTable* table, int fd, uint32_t end, uint64_t object, uint64_t inode, int status_flags,
             uint32_t fd_flags) {
  FdRecord* r = table->Begin(fd);
  if (r == nullptr) return;
  PipeRecord* p = r->As<PipeRecord>();
  p->end = end;
  const int cap = fcntl(fd, F_GETPIPE_SZ);
  p->capacity = cap > 0 ? static_cast<uint32_t>(cap) : 0;
  r->status_flags = static_cast<uint32_t>(status_flags);
  r->fd_flags = fd_flags;
  r->description = table->NewId();
  r->object = object;
  r->inode = inode;
  r->kind = FdKind::kPipe;
  table->Commit(r);
}

}  // namespace

void RecordPipe(FdTable* table, const int fds[2], int flags) {
  struct stat st {};
  const uint64_t inode = fstat(fds[0], &st) == 0 ? st.st_ino : 0;
  const uint64_t object = table->NewId();
  const uint32_t fd_flags = (flags & O_CLOEXEC) != 0 ? FD_CLOEXEC : 0;
  const int status = flags & O_NONBLOCK;
  FillEnd(table, fds[0], 0, object, inode, O_RDONLY | status, fd_flags);
  FillEnd(table, fds[1], 1, object, inode, O_WRONLY | status, fd_flags);
}

void RecordAdoptedPipeEnd(FdTable* table, int fd, uint32_t end, uint64_t object, uint64_t inode, int status_flags) {
  const int fdf = fcntl(fd, F_GETFD);
  FillEnd(table, fd, end, object, inode, status_flags, fdf > 0 ? static_cast<uint32_t>(fdf) : 0);
}

extern const KindOps kPipeOps = {FdKind::kPipe, 0, Capture, Recreate, Describe};

}  // namespace respct::kernel
