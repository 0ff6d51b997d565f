#include "runtime/core/held_output.h"

#include <fcntl.h>
#include <linux/futex.h>
#include <poll.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "runtime/base/clock.h"
#include "runtime/base/runtime_fds.h"
#include "runtime/core/current_thread.h"
#include "runtime/core/program_signals.h"
#include "runtime/kernel/kernel_objects.h"
#include "runtime/kernel/socket_record.h"

namespace respct::core {
namespace {

std::atomic<HeldOutput*> g_active{nullptr};

// A spin lock: the critical sections copy a call's bytes or move a pointer,
// and a pthread mutex here would be the program's interposed one.
class SpinLock {
 public:
  void lock() {
    while (flag_.exchange(true, std::memory_order_acquire))
      while (flag_.load(std::memory_order_relaxed)) __builtin_ia32_pause();
  }
  void unlock() { flag_.store(false, std::memory_order_release); }

 private:
  std::atomic<bool> flag_{false};
};

long Futex(std::atomic<uint32_t>* word, int op, uint32_t val, const timespec* t) {
  return syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), op, val, t, nullptr, 0);
}

constexpr size_t kReservoir = 65536;
constexpr size_t kNonSocketChunk = 4096;  // PIPE_BUF: a poll-writable pipe takes it whole

}  // namespace

struct HeldOutput::Segment {
  enum Kind : uint8_t { kData, kShutdown, kClose };
  Segment* next = nullptr;
  uint64_t epoch = 0;
  uint64_t enqueued_ns = 0;
  Kind kind = kData;
  int how = 0;             // kShutdown
  socklen_t to_len = 0;    // sendto's address, for datagrams
  sockaddr_storage to{};
  size_t len = 0, off = 0;
  char* data() { return reinterpret_cast<char*>(this + 1); }
};

// Locks: `lock` guards the list and `bytes`; `io` is held by the releaser
// across each write and by HoldClose while it moves `fd` to a duplicate, so
// a write never goes to a number the program has closed (and perhaps reused).
// Order: io, then lock.
struct HeldOutput::Queue {
  SpinLock lock;
  SpinLock io;
  int fd = -1;             // where the bytes go (a duplicate once closed)
  bool socket = false;
  bool stream = true;
  bool in_active = false;  // under active_mu_
  std::atomic<bool> broken{false};
  uint64_t version = 0;    // of the kernel record it was made for (FdInfo::version)
  Segment* head = nullptr;
  Segment* tail = nullptr;
  std::atomic<size_t> bytes{0};
  std::atomic<uint32_t> room{0};     // futex word, bumped as bytes go out
  std::atomic<uint32_t> waiters{0};
};

HeldOutput* ActiveHeldOutput() { return g_active.load(std::memory_order_acquire); }
void SetActiveHeldOutput(HeldOutput* h) { g_active.store(h, std::memory_order_release); }

HeldOutput::HeldOutput(const HeldOutputOptions& options, kernel::KernelObjects* kernel,
                       std::function<void()> want_round)
    : options_(options), kernel_(kernel), want_round_(std::move(want_round)) {}

HeldOutput::~HeldOutput() {
  Stop(0);
  for (Queue* q : all_) {
    for (Segment* s = q->head; s != nullptr;) {
      Segment* n = s->next;
      std::free(s);
      s = n;
    }
    delete q;
  }
  if (fds_ != nullptr) munmap(fds_, sizeof(FdInfo) * kernel::kMaxFds);
}

Status HeldOutput::Start(uint64_t open_epoch) {
  RuntimeScope scope;  // the eventfd is the runtime's, never recorded as the program's
  open_epoch_.store(open_epoch, std::memory_order_release);
  void* m = mmap(nullptr, sizeof(FdInfo) * kernel::kMaxFds, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) return Status::FromErrno("mmap the held-output table", errno);
  fds_ = static_cast<FdInfo*>(m);  // zero pages: every FdInfo starts kUnknown, no queue
  const int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (efd < 0) return Status::FromErrno("eventfd for the output releaser", errno);
  wake_fd_ = runtime_fds::Adopt(efd);
  releaser_ = std::thread([this] {
    t_current.in_runtime = 1;  // never an application thread
    BlockSignalsInRuntimeThread();
    pthread_setname_np(pthread_self(), "respct-output");
    ReleaserLoop();
  });
  return Status::OK();
}

void HeldOutput::Stop(int drain_ms) {
  if (!releaser_.joinable()) return;
  const uint64_t deadline = MonotonicNs() + uint64_t(drain_ms > 0 ? drain_ms : 0) * 1'000'000u;
  // Let the releaser write what it may until nothing released is left or time is up.
  for (;;) {
    bool left = false;
    {
      std::lock_guard<std::mutex> g(active_mu_);
      const uint64_t c = committed_.load(std::memory_order_acquire);
      for (Queue* q : active_) {
        std::lock_guard<SpinLock> l(q->lock);
        if (q->head != nullptr && q->head->epoch <= c) left = true;
      }
    }
    if (!left || MonotonicNs() >= deadline) break;
    usleep(1000);
  }
  stopping_.store(true, std::memory_order_release);
  Wake();
  releaser_.join();
  if (wake_fd_ >= 0) {
    runtime_fds::Forget(wake_fd_);
    close(wake_fd_);
    wake_fd_ = -1;
  }
}

void HeldOutput::Wake() {
  const uint64_t one = 1;
  if (wake_fd_ >= 0) (void)!write(wake_fd_, &one, sizeof one);
}

void HeldOutput::Committed(uint64_t epoch) {
  uint64_t c = committed_.load(std::memory_order_relaxed);
  while (c < epoch && !committed_.compare_exchange_weak(c, epoch, std::memory_order_acq_rel)) {
  }
  Wake();
}

HeldOutput::Class HeldOutput::Classify(int fd) {
  kernel::FdTable& t = kernel_->table();
  const kernel::FdRecord* r = t.at(fd);
  if (r == nullptr) return Class::kPass;
  auto fstat_says = [&] {
    struct stat st {};
    if (fstat(fd, &st) != 0) return Class::kPass;
    return (S_ISSOCK(st.st_mode) || S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode)) ? Class::kHold : Class::kPass;
  };
  switch (r->kind) {
    case kernel::FdKind::kInetSocket: {
      const auto* s = r->As<kernel::SocketRecord>();
      return (s->type != SOCK_STREAM || s->state == kernel::kSocketConnected) ? Class::kHold : Class::kPass;
    }
    case kernel::FdKind::kUnixSocket: {
      const auto* s = r->As<kernel::SocketRecord>();
      return (s->type != SOCK_STREAM || s->state == kernel::kSocketConnected) ? Class::kHold : Class::kPass;
    }
    case kernel::FdKind::kInherited:
      return fstat_says();
    case kernel::FdKind::kFile: {
      struct stat st {};
      if (fstat(fd, &st) != 0) return Class::kPass;
      return (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode)) ? Class::kHold : Class::kPass;
    }
    default:
      return Class::kPass;
  }
}

bool HeldOutput::Holds(int fd) {
  if (!kernel::FdTable::InRange(fd) || fds_ == nullptr) return false;
  FdInfo& f = fds_[fd];
  // Any change of the record (a new object at this number, a connect
  // completing) moves its seq on: the class is computed again.
  const kernel::FdRecord* r = kernel_->table().at(fd);
  const uint64_t version = r != nullptr ? (r->description << 32) ^ r->seq.load(std::memory_order_acquire) : 0;
  auto cls = static_cast<Class>(f.cls.load(std::memory_order_acquire));
  if (cls == Class::kUnknown || f.version.load(std::memory_order_relaxed) != version) {
    cls = Classify(fd);
    f.version.store(version, std::memory_order_relaxed);
    f.cls.store(static_cast<uint8_t>(cls), std::memory_order_release);
    // An idle queue made for another object at this number now serves the
    // one the record describes (a new connection after a reset one).
    if (Queue* q = f.queue.load(std::memory_order_acquire); q != nullptr && q->version != version) {
      std::lock_guard<SpinLock> l(q->lock);
      if (q->head == nullptr) {
        q->broken.store(false);
        q->version = version;
        SetKind(q);
      }
    }
  }
  if (cls != Class::kHold) return false;
  Queue* q = f.queue.load(std::memory_order_acquire);
  return q == nullptr || !q->broken.load(std::memory_order_acquire);
}

void HeldOutput::SetKind(Queue* q) {
  int type = 0;
  socklen_t len = sizeof type;
  q->socket = getsockopt(q->fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0;
  q->stream = !q->socket || type == SOCK_STREAM;
}

HeldOutput::Queue* HeldOutput::QueueFor(int fd, bool create) {
  FdInfo& f = fds_[fd];
  Queue* q = f.queue.load(std::memory_order_acquire);
  if (q != nullptr || !create) return q;
  q = new Queue;
  q->fd = fd;
  q->version = f.version.load(std::memory_order_relaxed);
  SetKind(q);
  {
    std::lock_guard<std::mutex> g(active_mu_);
    all_.push_back(q);
  }
  Queue* expected = nullptr;
  if (!f.queue.compare_exchange_strong(expected, q, std::memory_order_acq_rel)) return expected;  // q stays in all_
  return q;
}

ssize_t HeldOutput::Hold(int fd, const iovec* iov, int iovcnt, const sockaddr* to, socklen_t tolen) {
  Queue* q = QueueFor(fd, true);
  size_t total = 0;
  for (int i = 0; i < iovcnt; ++i) total += iov[i].iov_len;
  const size_t held = q->bytes.load(std::memory_order_acquire);
  if (held > 0 && held + total > options_.fd_bound) return kMustWait;
  auto* s = static_cast<Segment*>(std::malloc(sizeof(Segment) + total));
  if (s == nullptr) {
    errno = ENOBUFS;
    return -1;
  }
  new (s) Segment;
  size_t at = 0;
  for (int i = 0; i < iovcnt; ++i) {
    std::memcpy(s->data() + at, iov[i].iov_base, iov[i].iov_len);
    at += iov[i].iov_len;
  }
  s->len = total;
  if (to != nullptr && tolen > 0 && tolen <= sizeof s->to) {
    std::memcpy(&s->to, to, tolen);
    s->to_len = tolen;
  }
  s->enqueued_ns = MonotonicNs();
  s->epoch = open_epoch_.load(std::memory_order_acquire);
  {
    std::lock_guard<SpinLock> l(q->lock);
    if (q->tail != nullptr) {
      q->tail->next = s;
    } else {
      q->head = s;
    }
    q->tail = s;
    q->bytes.fetch_add(total, std::memory_order_acq_rel);
  }
  {
    std::lock_guard<std::mutex> g(active_mu_);
    if (!q->in_active) {
      q->in_active = true;
      active_.push_back(q);
    }
  }
  bool ask = false;
  uint64_t asked = round_asked_for_.load(std::memory_order_relaxed);
  while (asked < s->epoch) {
    if (round_asked_for_.compare_exchange_weak(asked, s->epoch, std::memory_order_acq_rel)) {
      ask = true;
      break;
    }
  }
  {
    std::lock_guard<std::mutex> g(stats_mu_);
    stats_.bytes_held += total;
    ++stats_.calls_held;
    if (ask) ++stats_.early_epochs;
  }
  if (ask && want_round_) want_round_();
  return static_cast<ssize_t>(total);
}

void HeldOutput::WaitUntil(int fd, size_t at_most) {
  Queue* q = QueueFor(fd, false);
  if (q == nullptr) return;
  {
    std::lock_guard<std::mutex> g(stats_mu_);
    ++stats_.waits;
  }
  q->waiters.fetch_add(1);
  for (;;) {
    const uint32_t seen = q->room.load(std::memory_order_acquire);
    if (q->bytes.load() <= at_most || q->broken.load()) break;
    if (at_most == 0 && q->head == nullptr) break;  // a queued close or shutdown alone
    timespec t{0, 100'000'000};
    Futex(&q->room, FUTEX_WAIT_PRIVATE, seen, &t);
  }
  q->waiters.fetch_sub(1);
}

bool HeldOutput::Pending(int fd) {
  if (!kernel::FdTable::InRange(fd) || fds_ == nullptr) return false;
  Queue* q = fds_[fd].queue.load(std::memory_order_acquire);
  return q != nullptr && q->bytes.load(std::memory_order_acquire) > 0;
}

bool HeldOutput::HoldClose(int fd) {
  if (!kernel::FdTable::InRange(fd) || fds_ == nullptr) return false;
  FdInfo& f = fds_[fd];
  Queue* q = f.queue.load(std::memory_order_acquire);
  if (q == nullptr) return false;
  std::lock_guard<SpinLock> io(q->io);
  std::lock_guard<SpinLock> l(q->lock);
  if (q->head == nullptr) return false;  // nothing waiting: an ordinary close
  // The duplicate keeps the open file description alive, and with it the
  // descriptor's entries in the program's epoll sets (epoll forgets a file
  // only when its last descriptor closes): they would go on reporting events
  // under the closed number, which the program may reuse at once (found by
  // the incr campaign: a worker kept reading a number another worker had
  // just accepted a client on). They go now, as the close would take them.
  for (const int32_t set : kernel_->table().header()->epoll_sets)
    if (set >= 0) epoll_ctl(set, EPOLL_CTL_DEL, fd, nullptr);
  const int dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (dup_fd < 0) return false;  // the close goes ahead; what is queued goes to a closed number (lost)
  auto* s = static_cast<Segment*>(std::malloc(sizeof(Segment)));
  if (s == nullptr) {
    close(dup_fd);
    return false;
  }
  new (s) Segment;
  s->kind = Segment::kClose;
  s->epoch = open_epoch_.load(std::memory_order_acquire);
  s->enqueued_ns = MonotonicNs();
  q->tail->next = s;
  q->tail = s;
  q->fd = runtime_fds::Adopt(dup_fd);
  // The number is the program's again: a new queue if it holds output again.
  f.queue.store(nullptr, std::memory_order_release);
  f.cls.store(static_cast<uint8_t>(Class::kUnknown), std::memory_order_release);
  return true;
}

bool HeldOutput::HoldShutdown(int fd, int how) {
  Queue* q = QueueFor(fd, false);
  if (q == nullptr) return false;
  std::lock_guard<SpinLock> l(q->lock);
  if (q->head == nullptr) return false;
  auto* s = static_cast<Segment*>(std::malloc(sizeof(Segment)));
  if (s == nullptr) return false;
  new (s) Segment;
  s->kind = Segment::kShutdown;
  s->how = how;
  s->epoch = open_epoch_.load(std::memory_order_acquire);
  s->enqueued_ns = MonotonicNs();
  q->tail->next = s;
  q->tail = s;
  return true;
}

void HeldOutput::Sample(uint64_t ns) {
  std::lock_guard<std::mutex> g(stats_mu_);
  ++sample_seen_;
  stats_.held_max_ns = std::max(stats_.held_max_ns, ns);
  if (samples_.size() < kReservoir) {
    samples_.push_back(ns);
  } else {
    samples_[sample_seen_ % kReservoir] = ns;  // keeps the most recent window
  }
}

bool HeldOutput::Drain(Queue* q, uint64_t committed, uint64_t now_ns) {
  for (;;) {
    Segment* s;
    {
      std::lock_guard<SpinLock> l(q->lock);
      s = q->head;
    }
    if (s == nullptr || s->epoch > committed) return true;
    bool done = false;
    std::unique_lock<SpinLock> io(q->io);
    if (s->kind == Segment::kData) {
      if (q->broken.load()) {
        done = true;
      } else {
        ssize_t n;
        const size_t left = s->len - s->off;
        if (q->socket) {
          n = sendto(q->fd, s->data() + s->off, left, MSG_DONTWAIT | MSG_NOSIGNAL,
                     s->to_len > 0 ? reinterpret_cast<const sockaddr*>(&s->to) : nullptr, s->to_len);
        } else {
          pollfd p{q->fd, POLLOUT, 0};
          if (poll(&p, 1, 0) <= 0 || (p.revents & POLLOUT) == 0) {
            if ((p.revents & (POLLERR | POLLHUP | POLLNVAL)) == 0) return false;
            n = -1;
            errno = EPIPE;
          } else {
            n = write(q->fd, s->data() + s->off, std::min(left, kNonSocketChunk));
          }
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return false;
        if (n < 0) {
          // The peer is gone: nothing queued can reach it. The program's next
          // call on the descriptor goes to the kernel and meets the error.
          q->broken.store(true);
          std::lock_guard<std::mutex> g(stats_mu_);
          ++stats_.reset;
          done = true;
        } else {
          s->off += static_cast<size_t>(n);
          done = s->off >= s->len || !q->stream;
        }
      }
    } else if (s->kind == Segment::kShutdown) {
      shutdown(q->fd, s->how);
      done = true;
    } else {
      runtime_fds::Forget(q->fd);
      close(q->fd);
      q->fd = -1;
      done = true;
    }
    io.unlock();
    if (!done) continue;
    const size_t len = s->kind == Segment::kData ? s->len : 0;
    if (s->kind == Segment::kData && !q->broken.load()) Sample(now_ns - std::min(now_ns, s->enqueued_ns));
    {
      std::lock_guard<SpinLock> l(q->lock);
      q->head = s->next;
      if (q->head == nullptr) q->tail = nullptr;
      q->bytes.fetch_sub(len, std::memory_order_acq_rel);
    }
    std::free(s);
    q->room.fetch_add(1, std::memory_order_acq_rel);
    if (q->waiters.load() != 0) Futex(&q->room, FUTEX_WAKE_PRIVATE, INT32_MAX, nullptr);
  }
}

void HeldOutput::ReleaserLoop() {
  std::vector<pollfd> polls;
  std::vector<Queue*> snapshot;
  for (;;) {
    const bool stopping = stopping_.load(std::memory_order_acquire);
    const uint64_t committed = committed_.load(std::memory_order_acquire);
    {
      std::lock_guard<std::mutex> g(active_mu_);
      snapshot = active_;
    }
    polls.assign(1, pollfd{wake_fd_, POLLIN, 0});
    const uint64_t now = MonotonicNs();
    for (Queue* q : snapshot)
      if (!Drain(q, committed, now)) polls.push_back(pollfd{q->fd, POLLOUT, 0});
    {
      std::lock_guard<std::mutex> g(active_mu_);
      active_.erase(std::remove_if(active_.begin(), active_.end(),
                                   [](Queue* q) {
                                     std::lock_guard<SpinLock> l(q->lock);
                                     if (q->head != nullptr) return false;
                                     q->in_active = false;
                                     return true;
                                   }),
                    active_.end());
    }
    if (stopping) return;
    poll(polls.data(), polls.size(), polls.size() > 1 ? 100 : -1);
    if ((polls[0].revents & POLLIN) != 0) {
      uint64_t v;
      (void)!read(wake_fd_, &v, sizeof v);
    }
  }
}

HeldOutputStats HeldOutput::Stats() const {
  std::lock_guard<std::mutex> g(stats_mu_);
  HeldOutputStats s = stats_;
  std::vector<uint64_t> v = samples_;
  s.samples = sample_seen_;
  if (!v.empty()) {
    std::sort(v.begin(), v.end());
    s.held_p50_ns = v[v.size() / 2];
    s.held_p99_ns = v[std::min(v.size() - 1, v.size() * 99 / 100)];
  }
  return s;
}

}  // namespace respct::core
