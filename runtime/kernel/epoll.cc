#include "runtime/kernel/epoll.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "runtime/heap/heap.h"
#include "runtime/kernel/fdinfo.h"
#include "runtime/kernel/kind_ops.h"
#include "runtime/sync/futex.h"

namespace respct::kernel {
namespace {

constexpr uint32_t kOneShot = EPOLLONESHOT;
// Bits the kernel keeps on a fired one-shot entry (EP_PRIVATE_BITS).
constexpr uint32_t kPrivateBits = EPOLLWAKEUP | EPOLLONESHOT | EPOLLET | EPOLLEXCLUSIVE;

EpollEntry* Entries(const EpollRecord* e) { return reinterpret_cast<EpollEntry*>(e->entries); }

// The list's lock: application threads calling epoll_ctl concurrently.
class ListLock {
 public:
  explicit ListLock(EpollRecord* e) : word_(&e->lock) {
    std::atomic_ref<uint32_t> w(*word_);
    uint32_t expected = 0;
    while (!w.compare_exchange_weak(expected, 1, std::memory_order_acquire)) {
      expected = 0;
      sync::detail::CpuRelax();
    }
  }
  ~ListLock() { std::atomic_ref<uint32_t>(*word_).store(0, std::memory_order_release); }

 private:
  uint32_t* word_;
};

void Capture(CaptureContext&, int fd, FdRecord* r) {
  EpollRecord* e = r->As<EpollRecord>();
  if (e->oneshot == 0) return;
  EpollEntry* list = Entries(e);
  ForEachEpollEntry(fd, [&](int tfd, uint32_t events, uint64_t) {
    for (uint32_t i = 0; i < e->count; ++i)
      if (list[i].fd == tfd && (list[i].events & kOneShot) != 0)
        list[i].disarmed = (events & ~kPrivateBits) == 0 ? 1 : 0;
  });
}

Status Recreate(RecreateContext& ctx, const FdRecord* const* members, int count, int* new_fds) {
  const EpollRecord* e = members[0]->As<EpollRecord>();
  const int epfd = epoll_create1(EPOLL_CLOEXEC);
  if (epfd < 0) return Status::FromErrno("epoll_create1", errno);
  const EpollEntry* list = Entries(e);
  for (uint32_t i = 0; i < e->count; ++i) {
    const EpollEntry& en = list[i];
    const FdRecord* target = ctx.table->at(en.fd);
    if (target == nullptr || target->kind == FdKind::kNone) continue;  // gone before the epoch
    epoll_event ev{};
    ev.events = en.disarmed != 0 ? (en.events & kPrivateBits) : en.events;
    ev.data.u64 = en.data;
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, en.fd, &ev) != 0) {
      const int err = errno;
      close(epfd);
      return Status::FromErrno("epoll_ctl ADD fd " + std::to_string(en.fd) + " to a recreated epoll set", err);
    }
  }
  for (int i = 0; i < count; ++i) new_fds[i] = epfd;
  return Status::OK();
}

std::string Describe(const FdRecord& r) {
  const EpollRecord* e = r.As<EpollRecord>();
  std::string s = "epoll, " + std::to_string(e->count) + " fd(s)";
  const EpollEntry* list = Entries(e);
  for (uint32_t i = 0; i < e->count && i < 8; ++i) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%s%d:%#x", i == 0 ? ": " : " ", list[i].fd, list[i].events);
    s += buf;
  }
  if (e->count > 8) s += " ...";
  return s;
}

bool Grow(heap::Heap* heap, EpollRecord* e) {
  const uint32_t cap = e->capacity == 0 ? 16 : e->capacity * 2;
  auto* grown = static_cast<EpollEntry*>(heap->Malloc(sizeof(EpollEntry) * cap));
  if (grown == nullptr) return false;
  if (e->count != 0) std::memcpy(grown, Entries(e), sizeof(EpollEntry) * e->count);
  if (e->entries != 0) heap->Free(Entries(e));
  e->entries = reinterpret_cast<uint64_t>(grown);
  e->capacity = cap;
  return true;
}

void Recount(EpollRecord* e) {
  uint32_t n = 0;
  for (uint32_t i = 0; i < e->count; ++i) n += (Entries(e)[i].events & kOneShot) != 0;
  e->oneshot = n;
}

}  // namespace

void RecordEpollCreate(FdTable* table, int fd, int flags) {
  struct stat st {};
  FdRecord* r = table->Begin(fd);
  if (r == nullptr) return;
  r->As<EpollRecord>()->flags = static_cast<uint32_t>(flags);
  r->status_flags = O_RDWR;
  r->fd_flags = (flags & EPOLL_CLOEXEC) != 0 ? FD_CLOEXEC : 0;
  r->description = table->NewId();
  r->object = r->description;
  r->inode = fstat(fd, &st) == 0 ? st.st_ino : 0;
  r->kind = FdKind::kEpoll;
  table->Commit(r);
  table->AddEpollSet(fd);
}

void RecordEpollCtl(FdTable* table, heap::Heap* heap, int epfd, int op, int fd, const epoll_event* event) {
  FdRecord* r = table->at(epfd);
  const FdRecord* target = table->at(fd);
  if (r == nullptr || r->kind != FdKind::kEpoll || heap == nullptr) return;
  EpollRecord* e = r->As<EpollRecord>();
  ListLock lock(e);
  EpollEntry* list = Entries(e);
  uint32_t at = e->count;
  for (uint32_t i = 0; i < e->count; ++i)
    if (list[i].fd == fd) at = i;
  if (op == EPOLL_CTL_DEL) {
    if (at < e->count) {
      list[at] = list[e->count - 1];
      --e->count;
    }
  } else {
    if (at == e->count) {
      if (e->count == e->capacity && !Grow(heap, e)) return;
      list = Entries(e);
      ++e->count;
    }
    list[at] = EpollEntry{fd, event != nullptr ? event->events : 0, event != nullptr ? event->data.u64 : 0,
                          target != nullptr ? target->description : 0, 0, 0};
  }
  Recount(e);
}

void RemoveClosedFromEpolls(FdTable* table, int fd, uint64_t description) {
  for (const int32_t ep : table->header()->epoll_sets) {
    FdRecord* r = table->at(ep);
    if (r == nullptr || r->kind != FdKind::kEpoll) continue;
    EpollRecord* e = r->As<EpollRecord>();
    if (e->count == 0) continue;
    ListLock lock(e);
    EpollEntry* list = Entries(e);
    for (uint32_t i = 0; i < e->count;) {
      if (list[i].fd == fd && list[i].description == description) {
        list[i] = list[--e->count];
      } else {
        ++i;
      }
    }
    Recount(e);
  }
}

extern const KindOps kEpollOps = {FdKind::kEpoll, 1, Capture, Recreate, Describe};

}  // namespace respct::kernel
