#include "runtime/kernel/signalfd.h"

#include <fcntl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "runtime/kernel/kind_ops.h"

namespace respct::kernel {
namespace {

Status Recreate(RecreateContext&, const FdRecord* const* members, int count, int* new_fds) {
  const SignalFdRecord* s = members[0]->As<SignalFdRecord>();
  sigset_t mask;
  sigemptyset(&mask);
  for (int sig = 1; sig < 128 && sig < NSIG; ++sig)
    if ((s->mask[(sig - 1) / 64] >> ((sig - 1) % 64)) & 1) sigaddset(&mask, sig);
  const int fd = signalfd(-1, &mask, SFD_CLOEXEC);
  if (fd < 0) return Status::FromErrno("signalfd", errno);
  for (int i = 0; i < count; ++i) new_fds[i] = fd;
  return Status::OK();
}

std::string Describe(const FdRecord& r) {
  const SignalFdRecord* s = r.As<SignalFdRecord>();
  std::string list;
  for (int sig = 1; sig < 128; ++sig)
    if ((s->mask[(sig - 1) / 64] >> ((sig - 1) % 64)) & 1) list += (list.empty() ? "" : ",") + std::to_string(sig);
  return "signalfd for " + (list.empty() ? std::string("no signal") : "signals " + list);
}

}  // namespace

void RecordSignalFd(FdTable* table, int fd, const sigset_t* mask, int flags, bool update) {
  FdRecord* r = update ? table->at(fd) : table->Begin(fd);
  if (r == nullptr || (update && r->kind != FdKind::kSignalFd)) return;
  if (update) r->seq.fetch_add(1, std::memory_order_acq_rel);
  SignalFdRecord* s = r->As<SignalFdRecord>();
  s->mask[0] = s->mask[1] = 0;
  for (int sig = 1; sig < 128 && sig < NSIG; ++sig)
    if (sigismember(mask, sig) == 1) s->mask[(sig - 1) / 64] |= uint64_t{1} << ((sig - 1) % 64);
  if (!update) {
    struct stat st {};
    s->flags = static_cast<uint32_t>(flags);
    r->status_flags = O_RDWR | ((flags & SFD_NONBLOCK) != 0 ? O_NONBLOCK : 0);
    r->fd_flags = (flags & SFD_CLOEXEC) != 0 ? FD_CLOEXEC : 0;
    r->description = table->NewId();
    r->object = r->description;
    r->inode = fstat(fd, &st) == 0 ? st.st_ino : 0;
    r->kind = FdKind::kSignalFd;
  }
  table->Commit(r);
}

extern const KindOps kSignalFdOps = {FdKind::kSignalFd, 0, nullptr, Recreate, Describe};

}  // namespace respct::kernel
