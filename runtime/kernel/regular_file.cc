#include "runtime/kernel/regular_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "runtime/kernel/kind_ops.h"

namespace respct::kernel {
namespace {

// The absolute path of `fd` by /proc, with a live process's own pid turned
// back into "self" (a recovered process has another pid).
size_t LinkPath(int fd, char* out, size_t cap) {
  char link[32];
  std::snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  const ssize_t n = readlink(link, out, cap - 1);
  if (n <= 0) return 0;
  out[n] = '\0';
  return static_cast<size_t>(n);
}

bool Seekable(uint32_t type) { return type == S_IFREG || type == S_IFDIR || type == S_IFBLK; }
bool WritableFile(const FileRecord& f) { return f.file_type == S_IFREG && (f.open_flags & O_ACCMODE) != O_RDONLY; }

void Capture(CaptureContext&, int fd, FdRecord* r) {
  FileRecord* f = r->As<FileRecord>();
  if (!Seekable(f->file_type)) return;
  const off_t off = lseek(fd, 0, SEEK_CUR);
  if (off >= 0) f->offset = static_cast<uint64_t>(off);
  struct stat st {};
  if (WritableFile(*f) && fstat(fd, &st) == 0) {
    f->size = static_cast<uint64_t>(st.st_size);
    f->size_known = 1;
  }
}

Status Recreate(RecreateContext& ctx, const FdRecord* const* members, int count, int* new_fds) {
  for (int i = 0; i < count; ++i) {
    const FdRecord& r = *members[i];
    const FileRecord* f = r.As<FileRecord>();
    if (f->path_too_long != 0)
      return Status::FailedPrecondition("a file whose path is longer than " + std::to_string(kMaxPathBytes - 1) +
                                        " bytes cannot be reopened");
    int flags = static_cast<int>(f->open_flags) & ~(O_CREAT | O_EXCL | O_TRUNC | O_NONBLOCK | O_CLOEXEC);
    flags |= O_CLOEXEC;
    if (f->file_type == S_IFDIR) flags |= O_DIRECTORY;
    int fd = -1;
    if (f->file_type == S_IFIFO && (flags & O_ACCMODE) == O_WRONLY) {
      // A writer's open waits for a reader: hold one for the instant of the open.
      const int reader = open(f->path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
      fd = open(f->path, flags | O_NONBLOCK);
      if (reader >= 0) close(reader);
      if (fd >= 0 && (r.status_flags & O_NONBLOCK) == 0) fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    } else {
      fd = open(f->path, flags | (f->file_type == S_IFIFO ? O_NONBLOCK : 0));
      if (fd >= 0 && f->file_type == S_IFIFO && (r.status_flags & O_NONBLOCK) == 0)
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    }
    if (fd < 0) return Status::FromErrno(std::string("reopen ") + f->path, errno);
    struct stat st {};
    if (fstat(fd, &st) == 0 && (st.st_mode & S_IFMT) != f->file_type) {
      close(fd);
      return Status::FailedPrecondition(std::string(f->path) + " is not the same kind of file any more");
    }
    if (WritableFile(*f) && f->size_known != 0 && static_cast<uint64_t>(st.st_size) > f->size) {
      if (ftruncate(fd, static_cast<off_t>(f->size)) != 0) {
        const int err = errno;
        close(fd);
        return Status::FromErrno(std::string("cut ") + f->path + " back to its size at the epoch", err);
      }
      ctx.warnings->push_back(std::string("file ") + f->path + ": cut back to its size at the epoch (" +
                              std::to_string(f->size) + " bytes; " +
                              std::to_string(static_cast<uint64_t>(st.st_size) - f->size) +
                              " written after it removed)");
    }
    if (Seekable(f->file_type) && lseek(fd, static_cast<off_t>(f->offset), SEEK_SET) < 0) {
      const int err = errno;
      close(fd);
      return Status::FromErrno(std::string("seek ") + f->path + " to its recorded offset", err);
    }
    new_fds[i] = fd;
  }
  return Status::OK();
}

const char* TypeName(uint32_t type) {
  switch (type) {
    case S_IFREG: return "file";
    case S_IFDIR: return "directory";
    case S_IFCHR: return "device";
    case S_IFBLK: return "block device";
    case S_IFIFO: return "fifo";
  }
  return "file";
}

std::string Describe(const FdRecord& r) {
  const FileRecord* f = r.As<FileRecord>();
  std::string s = std::string(TypeName(f->file_type)) + " " + (f->path_too_long ? "(path too long)" : f->path);
  if (Seekable(f->file_type)) s += " @" + std::to_string(f->offset);
  return s;
}

}  // namespace

void RecordFileOpen(FdTable* table, int fd, int dirfd, const char* path, int flags) {
  struct stat st {};
  if (fstat(fd, &st) != 0) return;
  FdRecord* r = table->Begin(fd);
  if (r == nullptr) return;
  FileRecord* f = r->As<FileRecord>();
  f->open_flags = static_cast<uint32_t>(flags);
  f->file_type = st.st_mode & S_IFMT;
  f->dev = st.st_dev;
  const size_t given = path != nullptr ? std::strlen(path) : 0;
  const bool keep_given = path != nullptr && path[0] == '/' &&
                          (std::strncmp(path, "/proc/self/", 11) == 0 || std::strncmp(path, "/dev/", 5) == 0);
  size_t n = 0;
  if (keep_given || (path != nullptr && path[0] == '/' && dirfd == AT_FDCWD)) {
    if (given < kMaxPathBytes) {
      std::memcpy(f->path, path, given + 1);
      n = given;
    }
  } else {
    n = LinkPath(fd, f->path, kMaxPathBytes);
  }
  f->path_len = static_cast<uint32_t>(n);
  f->path_too_long = n == 0 ? 1 : 0;
  r->status_flags = static_cast<uint32_t>(flags) & ~static_cast<uint32_t>(O_CLOEXEC | O_CREAT | O_EXCL | O_TRUNC);
  r->fd_flags = (flags & O_CLOEXEC) != 0 ? FD_CLOEXEC : 0;
  r->description = table->NewId();
  r->object = r->description;
  r->inode = st.st_ino;
  r->kind = FdKind::kFile;
  table->Commit(r);
}

extern const KindOps kFileOps = {FdKind::kFile, 0, Capture, Recreate, Describe};

}  // namespace respct::kernel
