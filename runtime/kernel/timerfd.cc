#include "runtime/kernel/timerfd.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <cerrno>

#include "runtime/kernel/fdinfo.h"
#include "runtime/kernel/kind_ops.h"

namespace respct::kernel {
namespace {

int64_t Ns(const timespec& t) { return int64_t{t.tv_sec} * 1'000'000'000 + t.tv_nsec; }
timespec Ts(int64_t ns) { return timespec{static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)}; }

void Capture(CaptureContext&, int fd, FdRecord* r) {
  TimerFdRecord* t = r->As<TimerFdRecord>();
  itimerspec cur{};
  if (timerfd_gettime(fd, &cur) == 0) {
    t->value_ns = Ns(cur.it_value);
    t->interval_ns = Ns(cur.it_interval);
  }
  t->ticks = 0;
  pollfd p{fd, POLLIN, 0};
  if (poll(&p, 1, 0) == 1 && (p.revents & POLLIN) != 0) {
    uint64_t ticks = 0;
    t->ticks = ReadFdInfoDec(fd, "ticks:", &ticks) && ticks != 0 ? ticks : 1;
  }
}

Status Recreate(RecreateContext&, const FdRecord* const* members, int count, int* new_fds) {
  const TimerFdRecord* t = members[0]->As<TimerFdRecord>();
  const int fd = timerfd_create(t->clock, TFD_CLOEXEC);
  if (fd < 0) return Status::FromErrno("timerfd_create", errno);
  itimerspec v{};
  v.it_interval = Ts(t->interval_ns);
  v.it_value = Ts(t->ticks != 0 ? 1 : t->value_ns);
  if ((v.it_value.tv_sec != 0 || v.it_value.tv_nsec != 0) && timerfd_settime(fd, 0, &v, nullptr) != 0) {
    const int err = errno;
    close(fd);
    return Status::FromErrno("timerfd_settime", err);
  }
  for (int i = 0; i < count; ++i) new_fds[i] = fd;
  return Status::OK();
}

std::string Describe(const FdRecord& r) {
  const TimerFdRecord* t = r.As<TimerFdRecord>();
  if (t->value_ns == 0 && t->ticks == 0) return "timerfd (disarmed)";
  std::string s = "timerfd next in " + std::to_string(t->value_ns / 1000) + " us";
  if (t->interval_ns != 0) s += ", every " + std::to_string(t->interval_ns / 1000) + " us";
  if (t->ticks != 0) s += ", " + std::to_string(t->ticks) + " pending";
  return s;
}

}  // namespace

void RecordTimerFd(FdTable* table, int fd, int clock, int flags) {
  struct stat st {};
  FdRecord* r = table->Begin(fd);
  if (r == nullptr) return;
  TimerFdRecord* t = r->As<TimerFdRecord>();
  t->clock = clock;
  t->flags = static_cast<uint32_t>(flags);
  r->status_flags = O_RDWR | ((flags & TFD_NONBLOCK) != 0 ? O_NONBLOCK : 0);
  r->fd_flags = (flags & TFD_CLOEXEC) != 0 ? FD_CLOEXEC : 0;
  r->description = table->NewId();
  r->object = r->description;
  r->inode = fstat(fd, &st) == 0 ? st.st_ino : 0;
  r->kind = FdKind::kTimerFd;
  table->Commit(r);
}

extern const KindOps kTimerFdOps = {FdKind::kTimerFd, 0, Capture, Recreate, Describe};

}  // namespace respct::kernel
