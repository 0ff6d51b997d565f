#include "runtime/kernel/kernel_objects.h"

#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>

#include "runtime/heap/heap.h"
#include "runtime/kernel/epoll.h"
#include "runtime/kernel/eventfd.h"
#include "runtime/kernel/fdinfo.h"
#include "runtime/kernel/memfd.h"
#include "runtime/kernel/pipe.h"
#include "runtime/kernel/process_attrs.h"
#include "runtime/kernel/stdio_streams.h"
#include "runtime/kernel/regular_file.h"
#include "runtime/base/runtime_fds.h"
#include "runtime/kernel/signalfd.h"
#include "runtime/kernel/signals.h"
#include "runtime/kernel/socket_record.h"
#include "runtime/kernel/timerfd.h"

namespace respct::kernel {
namespace {

std::atomic<KernelObjects*> g_active{nullptr};
// Descriptor numbers ReserveImageNumbers held with a placeholder; Recreate
// closes those it did not replace (a record it skips as closed).
std::vector<int> g_placeholders;

// Calls fn(fd) for every descriptor open in this process but `skip`.
template <typename Fn>
void ForEachOpenFd(Fn&& fn) {
  DIR* d = opendir("/proc/self/fd");
  if (d == nullptr) return;
  const int own = dirfd(d);
  std::vector<int> fds;
  while (const dirent* e = readdir(d)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    const int fd = std::atoi(e->d_name);
    if (fd != own) fds.push_back(fd);
  }
  closedir(d);
  for (int fd : fds) fn(fd);
}

std::string LinkOf(int fd) {
  char path[40], buf[kMaxPathBytes];
  std::snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
  const ssize_t n = readlink(path, buf, sizeof buf - 1);
  if (n <= 0) return "";
  return std::string(buf, static_cast<size_t>(n));
}

void RecordInherited(FdTable* table, int fd) {
  struct stat st {};
  if (fstat(fd, &st) != 0) return;
  FdRecord* r = table->Begin(fd);
  if (r == nullptr) return;
  const std::string what = LinkOf(fd);
  std::snprintf(reinterpret_cast<char*>(r->body), 256, "%s", what.c_str());
  const int fl = fcntl(fd, F_GETFL), fdf = fcntl(fd, F_GETFD);
  r->status_flags = fl > 0 ? static_cast<uint32_t>(fl) : 0;
  r->fd_flags = fdf > 0 ? static_cast<uint32_t>(fdf) : 0;
  r->description = table->NewId();
  r->object = r->description;
  r->inode = st.st_ino;
  r->kind = FdKind::kInherited;
  table->Commit(r);
}

void RecordUnsupported(FdTable* table, int fd, const std::string& what, uint64_t inode) {
  FdRecord* r = table->Begin(fd);
  if (r == nullptr) return;
  std::snprintf(reinterpret_cast<char*>(r->body), 256, "%s", what.c_str());
  r->description = table->NewId();
  r->object = r->description;
  r->inode = inode;
  r->kind = FdKind::kUnsupported;
  table->Commit(r);
}

const char* UnsupportedWhat(const FdRecord& r) { return reinterpret_cast<const char*>(r.body); }

}  // namespace

std::vector<int> OpenDescriptors() {
  std::vector<int> fds;
  ForEachOpenFd([&](int fd) { fds.push_back(fd); });
  std::sort(fds.begin(), fds.end());
  return fds;
}

void MarkNewAsRuntime(const std::vector<int>& before) {
  KernelObjects* k = ActiveKernel();
  for (int fd : OpenDescriptors()) {
    if (std::binary_search(before.begin(), before.end(), fd) || runtime_fds::Owned(fd)) continue;
    const FdRecord* r = k != nullptr ? k->table().at(fd) : nullptr;
    if (r != nullptr && r->kind != FdKind::kNone) continue;  // the program's, recorded
    runtime_fds::Mark(fd);
  }
}

KernelObjects* ActiveKernel() { return g_active.load(std::memory_order_acquire); }
void SetActiveKernel(KernelObjects* k) { g_active.store(k, std::memory_order_release); }

std::unique_ptr<KernelObjects> KernelObjects::CreateFresh(uintptr_t base) {
  std::unique_ptr<KernelObjects> k(new KernelObjects(base));
  k->table_.Format();
  ForEachOpenFd([&](int fd) {
    if (!runtime_fds::Owned(fd)) RecordInherited(&k->table_, fd);
  });
  RecordWorkingDirectory(k->table_.header());
  return k;
}

std::unique_ptr<KernelObjects> KernelObjects::AttachRestored(uintptr_t base) {
  return std::unique_ptr<KernelObjects>(new KernelObjects(base));
}

Status KernelObjects::ReserveImageNumbers(const uint8_t* image, size_t stored) {
  if (image == nullptr || stored < sizeof(KernelStateHeader)) return Status::OK();  // an image without records
  const auto* h = reinterpret_cast<const KernelStateHeader*>(image);
  if (h->magic != kKernelMagic || h->version != kKernelVersion)
    return Status::Corruption("the image's kernel region is not a respct kernel state (version " +
                              std::to_string(h->version) + ")");
  for (int r = 0; r < 16; ++r)
    if ((h->process.rlimit_set & (1u << r)) != 0 && r == RLIMIT_NOFILE) setrlimit64(r, &h->process.rlimits[r]);
  const auto* records = reinterpret_cast<const FdRecord*>(image + kKernelHeaderBytes);
  const size_t have = (stored - kKernelHeaderBytes) / kFdRecordBytes;
  int highest = -1;
  const int placeholder = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (placeholder < 0) return Status::FromErrno("open /dev/null", errno);
  for (int fd = 0; fd <= h->highest_fd && static_cast<size_t>(fd) < have; ++fd) {
    const FdKind kind = records[fd].kind;
    if (kind == FdKind::kNone || kind == FdKind::kInherited) continue;
    highest = fd;
    if (fd != placeholder && fcntl(fd, F_GETFD) < 0 && dup3(placeholder, fd, O_CLOEXEC) >= 0)
      g_placeholders.push_back(fd);
  }
  // The placeholder itself may sit on a number the image needs: it stays,
  // and Recreate replaces it like the others.
  bool needed = false;
  if (static_cast<size_t>(placeholder) < have && placeholder <= h->highest_fd) {
    const FdKind kind = records[placeholder].kind;
    needed = kind != FdKind::kNone && kind != FdKind::kInherited;
  }
  if (!needed) {
    close(placeholder);
  } else {
    g_placeholders.push_back(placeholder);
  }
  runtime_fds::PlaceAbove(highest);
  return Status::OK();
}

Status KernelObjects::OpenScratchPipe() {
  int p[2];
  if (pipe2(p, O_CLOEXEC | O_NONBLOCK) != 0) return Status::FromErrno("the capture's scratch pipe", errno);
  scratch_[0] = runtime_fds::Adopt(p[0]);
  scratch_[1] = runtime_fds::Adopt(p[1]);
  // As large as any program pipe may be, so one tee(2) copies all of one.
  int max = 1 << 20;
  if (FILE* f = std::fopen("/proc/sys/fs/pipe-max-size", "re")) {
    if (std::fscanf(f, "%d", &max) != 1) max = 1 << 20;
    std::fclose(f);
  }
  fcntl(scratch_[1], F_SETPIPE_SZ, max);
  return Status::OK();
}

void KernelObjects::RecordClose(int fd, bool in_handler) {
  FdRecord* r = table_.at(fd);
  if (r == nullptr || r->kind == FdKind::kNone) return;
  const uint64_t description = r->description;
  const bool shared = table_.DescriptionShared(description, fd);
  if (r->kind == FdKind::kEpoll && !shared) {
    table_.RemoveEpollSet(fd);
    EpollRecord* e = r->As<EpollRecord>();
    if (!in_handler && heap_ != nullptr && e->entries != 0) heap_->Free(reinterpret_cast<void*>(e->entries));
    e->entries = 0;
    e->count = e->capacity = 0;
  }
  table_.Clear(fd);
  if (!shared) RemoveClosedFromEpolls(&table_, fd, description);
}

void KernelObjects::RecordDup(int from, int to, uint32_t fd_flags, bool in_handler) {
  if (from == to) return;
  RecordClose(to, in_handler);
  table_.Dup(from, to, fd_flags);
  if (table_.at(to) != nullptr && table_.at(to)->kind == FdKind::kEpoll) table_.AddEpollSet(to);
}

int KernelObjects::HighestRecordedFd() const {
  int highest = -1;
  for (int fd = 0; fd <= table_.highest(); ++fd)
    if (table_.at(fd)->kind != FdKind::kNone) highest = fd;
  return highest;
}

// ---- capture (under the pause) ----

void KernelObjects::CaptureUnderPause() {
  ApplyCorrections();
  CaptureStdio(&table_.header()->stdio);
  if (heap_ == nullptr) return;
  CaptureContext ctx{&table_, heap_, scratch_[0], scratch_[1]};
  const int h = table_.highest();
  for (int fd = 0; fd <= h; ++fd) {
    FdRecord* r = table_.at(fd);
    if (r->kind == FdKind::kNone) continue;
    const KindOps* ops = OpsFor(r->kind);
    if (ops == nullptr || ops->capture == nullptr) continue;
    // Only the first descriptor of a description captures it (a dup shares
    // offset and contents); the record of each dup is a copy taken at dup.
    ops->capture(ctx, fd, r);
  }
  CaptureItimers(table_.header());
}

void KernelObjects::ApplyCorrections() {
  for (const Correction& c : corrections_) {
    FdRecord* r = table_.at(c.fd);
    if (r == nullptr || r->seq.load(std::memory_order_acquire) != c.seq) continue;  // changed since: the program knows better
    struct stat st {};
    const bool open_now = fcntl(c.fd, F_GETFD) >= 0 && fstat(c.fd, &st) == 0;
    if (c.inode == 0) {
      if (!open_now) table_.Clear(c.fd);  // libc closed it on its own (fclose, closedir)
      continue;
    }
    if (!open_now || st.st_ino != c.inode) continue;
    if (r->kind == FdKind::kInherited) {
      // Still the launcher's descriptor, swapped by something no call of ours
      // saw: it stays the launcher's.
      RecordInherited(&table_, c.fd);
    } else {
      Adopt(c.fd);
    }
  }
  corrections_.clear();
}

// ---- census (between epochs) ----

void KernelObjects::MaybeCensus(uint64_t now_ns) {
  if (now_ns - last_census_ns_ < kCensusIntervalNs) return;
  last_census_ns_ = now_ns;
  std::vector<char> open(static_cast<size_t>(kMaxFds), 0);
  ForEachOpenFd([&](int fd) {
    if (fd < 0 || fd >= kMaxFds || runtime_fds::Owned(fd)) return;
    open[static_cast<size_t>(fd)] = 1;
    const FdRecord* r = table_.at(fd);
    const uint32_t seq = r->seq.load(std::memory_order_acquire);
    if ((seq & 1) != 0) return;  // being written right now
    struct stat st {};
    if (fstat(fd, &st) != 0) return;
    if (r->kind == FdKind::kNone || r->inode != st.st_ino) corrections_.push_back(Correction{fd, seq, st.st_ino});
  });
  for (int fd = 0; fd <= table_.highest(); ++fd) {
    const FdRecord* r = table_.at(fd);
    if (r->kind != FdKind::kNone && open[static_cast<size_t>(fd)] == 0)
      corrections_.push_back(Correction{fd, r->seq.load(std::memory_order_acquire), 0});
  }
  CountChildren();
}

void KernelObjects::CountChildren() {
  KernelStateHeader* h = table_.header();
  uint32_t n = 0;
  DIR* tasks = opendir("/proc/self/task");
  if (tasks == nullptr) return;
  while (const dirent* t = readdir(tasks)) {
    if (t->d_name[0] == '.') continue;
    const std::string path = std::string("/proc/self/task/") + t->d_name + "/children";
    FILE* f = std::fopen(path.c_str(), "re");
    if (f == nullptr) continue;
    int pid;
    while (std::fscanf(f, "%d", &pid) == 1) {
      if (n < 8) {
        h->child_pids[n] = pid;
        char comm[64], cpath[64];
        std::snprintf(cpath, sizeof cpath, "/proc/%d/comm", pid);
        comm[0] = '\0';
        if (FILE* c = std::fopen(cpath, "re")) {
          if (std::fgets(comm, sizeof comm, c) == nullptr) comm[0] = '\0';
          std::fclose(c);
        }
        // A comm is at most 15 characters (TASK_COMM_LEN); cut to the slot.
        const size_t len = std::min(strcspn(comm, "\n"), sizeof h->child_names[n] - 1);
        std::memcpy(h->child_names[n], comm, len);
        h->child_names[n][len] = '\0';
      }
      ++n;
    }
    std::fclose(f);
  }
  closedir(tasks);
  h->children = n;
}

// A descriptor the table does not know (or knows as something else): what
// /proc and the kernel say it is. Under the pause.
void KernelObjects::Adopt(int fd) {
  struct stat st {};
  if (fstat(fd, &st) != 0) return;
  const std::string link = LinkOf(fd);
  const int fl = fcntl(fd, F_GETFL);
  const int flags = fl < 0 ? 0 : fl;
  const int fdf = fcntl(fd, F_GETFD);
  const int cloexec = fdf > 0 && (fdf & FD_CLOEXEC) != 0 ? O_CLOEXEC : 0;
  switch (st.st_mode & S_IFMT) {
    case S_IFREG:
      if (link.rfind("/memfd:", 0) == 0) {
        const size_t end = link.find(" (deleted)");
        RecordMemFd(&table_, fd, link.substr(7, end == std::string::npos ? std::string::npos : end - 7).c_str(),
                    cloexec != 0 ? MFD_CLOEXEC : 0);
        return;
      }
      [[fallthrough]];
    case S_IFDIR:
    case S_IFCHR:
    case S_IFBLK:
      RecordFileOpen(&table_, fd, AT_FDCWD, link.c_str(), flags | cloexec);
      return;
    case S_IFIFO:
      if (link.rfind("pipe:", 0) == 0) {
        // Pair it with a recorded end of the same pipe, if any.
        uint64_t object = 0;
        for (int o = 0; o <= table_.highest() && object == 0; ++o) {
          const FdRecord* r = table_.at(o);
          if (o != fd && r->kind == FdKind::kPipe && r->inode == st.st_ino) object = r->object;
        }
        if (object == 0) object = table_.NewId();
        RecordAdoptedPipeEnd(&table_, fd, (flags & O_ACCMODE) == O_WRONLY ? 1 : 0, object, st.st_ino, flags);
      } else {
        RecordFileOpen(&table_, fd, AT_FDCWD, link.c_str(), flags | cloexec);
      }
      return;
    case S_IFSOCK: {
      int domain = 0, type = 0, protocol = 0, listening = 0;
      socklen_t l = sizeof domain;
      getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &l);
      l = sizeof type;
      getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &l);
      l = sizeof protocol;
      getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &protocol, &l);
      l = sizeof listening;
      getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &l);
      RecordSocket(&table_, fd, domain, type | ((flags & O_NONBLOCK) != 0 ? SOCK_NONBLOCK : 0) |
                                           (cloexec != 0 ? SOCK_CLOEXEC : 0), protocol);
      // The options a recreated socket needs to bind as it did.
      const int kept[][2] = {{SOL_SOCKET, SO_REUSEADDR}, {SOL_SOCKET, SO_REUSEPORT}, {IPPROTO_IPV6, IPV6_V6ONLY}};
      for (const auto& o : kept) {
        if (o[0] == IPPROTO_IPV6 && domain != AF_INET6) continue;
        int v = 0;
        socklen_t vl = sizeof v;
        if (getsockopt(fd, o[0], o[1], &v, &vl) == 0 && v != 0) RecordSetsockopt(&table_, fd, o[0], o[1], &v, vl);
      }
      sockaddr_storage a{};
      socklen_t alen = sizeof a;
      if (getsockname(fd, reinterpret_cast<sockaddr*>(&a), &alen) == 0 && alen > sizeof(sa_family_t))
        RecordBind(&table_, fd, reinterpret_cast<sockaddr*>(&a), alen);
      if (listening != 0) {
        RecordListen(&table_, fd, SOMAXCONN);
      } else {
        alen = sizeof a;
        if (getpeername(fd, reinterpret_cast<sockaddr*>(&a), &alen) == 0)
          RecordConnect(&table_, fd, reinterpret_cast<sockaddr*>(&a), alen);
      }
      return;
    }
  }
  // Anonymous inodes: link is "anon_inode:[eventfd]", "anon_inode:inotify", ...
  if (link == "anon_inode:[eventfd]") {
    uint64_t count = 0;
    ReadFdInfoHex(fd, "eventfd-count:", &count);
    RecordEventFd(&table_, fd, 0, (flags & O_NONBLOCK ? EFD_NONBLOCK : 0) | (cloexec ? EFD_CLOEXEC : 0));
    table_.at(fd)->As<EventFdRecord>()->count = count;
  } else if (link == "anon_inode:[timerfd]") {
    uint64_t clock = CLOCK_MONOTONIC;
    ReadFdInfoDec(fd, "clockid:", &clock);
    RecordTimerFd(&table_, fd, static_cast<int>(clock), (flags & O_NONBLOCK ? TFD_NONBLOCK : 0) |
                                                            (cloexec ? TFD_CLOEXEC : 0));
  } else if (link == "anon_inode:[signalfd]") {
    uint64_t bits = 0;
    ReadFdInfoHex(fd, "sigmask:", &bits);
    sigset_t mask;
    sigemptyset(&mask);
    for (int sig = 1; sig <= 64; ++sig)
      if ((bits >> (sig - 1)) & 1) sigaddset(&mask, sig);
    RecordSignalFd(&table_, fd, &mask, (flags & O_NONBLOCK ? SFD_NONBLOCK : 0) | (cloexec ? SFD_CLOEXEC : 0), false);
  } else if (link == "anon_inode:[eventpoll]") {
    RecordEpollCreate(&table_, fd, cloexec ? EPOLL_CLOEXEC : 0);
    ForEachEpollEntry(fd, [&](int tfd, uint32_t events, uint64_t data) {
      epoll_event ev{};
      ev.events = events;
      ev.data.u64 = data;
      RecordEpollCtl(&table_, heap_, fd, EPOLL_CTL_ADD, tfd, &ev);
    });
  } else {
    RecordUnsupported(&table_, fd, link.empty() ? "an object /proc does not name" : link, st.st_ino);
  }
}

// ---- recreate (recovery) ----

namespace {

struct Description {
  const FdRecord* record;  // the first descriptor's
  std::vector<int> fds;
};

struct Object {
  FdKind kind;
  std::vector<Description> descriptions;
};

// The place of a recreated descriptor: `fd` at the number `target`, with the
// recorded descriptor and status flags.
Status Place(int fd, int target, const FdRecord& r) {
  if (runtime_fds::Owned(target))
    return Status::FailedPrecondition("descriptor " + std::to_string(target) + " is the runtime's own in this process");
  if (fd != target && dup3(fd, target, (r.fd_flags & FD_CLOEXEC) != 0 ? O_CLOEXEC : 0) < 0)
    return Status::FromErrno("dup3 to descriptor " + std::to_string(target), errno);
  if (fd == target) fcntl(target, F_SETFD, static_cast<int>(r.fd_flags));
  // The record now describes the new object (the census compares inodes).

  const int settable = O_APPEND | O_NONBLOCK | O_ASYNC | O_DIRECT | O_NOATIME;
  const int cur = fcntl(target, F_GETFL);
  if (cur >= 0) fcntl(target, F_SETFL, (cur & ~settable) | (static_cast<int>(r.status_flags) & settable));
  return Status::OK();
}

std::string Plural(int n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

}  // namespace

Status KernelObjects::Recreate(const RecreateOptions& options, RecreateReport* report) {
  if (!table_.Valid()) return Status::Corruption("the image's kernel region is not a respct kernel state");
  AttributesRecreated attrs;
  RESPCT_RETURN_IF_ERROR(RecreateProcessAttributes(table_.header(), &attrs));

  // What cannot come back, all named in one refusal.
  std::string refusal;
  const KernelStateHeader* h = table_.header();
  for (int fd = 0; fd <= table_.highest(); ++fd) {
    const FdRecord* r = table_.at(fd);
    if (r->kind == FdKind::kUnsupported) {
      const std::string what = "fd " + std::to_string(fd) + " (" + UnsupportedWhat(*r) + ")";
      if (options.drop_unrestorable) {
        report->warnings.push_back("not restored: " + what);
      } else {
        refusal += (refusal.empty() ? "" : ", ") + what;
      }
    }
  }
  for (uint32_t i = 0; i < h->children && i < 8; ++i) {
    const std::string what = "child process " + std::to_string(h->child_pids[i]) + " (" + h->child_names[i] + ")";
    if (options.drop_unrestorable) {
      report->warnings.push_back("not restored: " + what);
    } else {
      refusal += (refusal.empty() ? "" : ", ") + what;
    }
  }
  if (!refusal.empty())
    return Status::FailedPrecondition("the image holds what respct cannot recreate: " + refusal +
                                      "; resume without them with --drop-unrestorable (RESPCT_DROP_UNRESTORABLE=1)");

  // Group descriptors by object, then by open file description.
  std::map<uint64_t, Object> objects;
  int inherited_missing = 0;
  for (int fd = 0; fd <= table_.highest(); ++fd) {
    const FdRecord* r = table_.at(fd);
    if (r->kind == FdKind::kNone || r->kind == FdKind::kUnsupported) continue;
    if (r->kind == FdKind::kInherited) {
      // The launcher of this process gives its own (the terminal, a
      // supervisor's pipes or socket): the record now describes that one.
      if (fcntl(fd, F_GETFD) < 0) {
        ++inherited_missing;
        report->warnings.push_back("fd " + std::to_string(fd) + " was inherited (" + UnsupportedWhat(*r) +
                                   ") and this process was not started with it");
        table_.Clear(fd);
      } else {
        RecordInherited(&table_, fd);
      }
      continue;
    }
    Object& o = objects[r->object];
    o.kind = r->kind;
    auto d = std::find_if(o.descriptions.begin(), o.descriptions.end(),
                          [&](const Description& x) { return x.record->description == r->description; });
    if (d == o.descriptions.end()) {
      o.descriptions.push_back(Description{r, {fd}});
    } else {
      d->fds.push_back(fd);
    }
  }

  RecreateContext ctx{&table_, &report->warnings};
  RestoreTally tally;
  for (int phase = 0; phase < 2; ++phase) {
    for (auto& [id, o] : objects) {
      const KindOps* ops = OpsFor(o.kind);
      if (ops == nullptr || ops->phase != phase) continue;
      std::vector<const FdRecord*> members;
      for (const Description& d : o.descriptions) members.push_back(d.record);
      std::vector<int> fds(members.size(), -1);
      const Status st = ops->recreate(ctx, members.data(), static_cast<int>(members.size()), fds.data());
      const std::string what = "fd " + std::to_string(o.descriptions[0].fds[0]) + " (" +
                               ops->describe(*o.descriptions[0].record) + ")";
      if (!st.ok()) return st.Annotate("recreate " + what);
      for (size_t i = 0; i < o.descriptions.size(); ++i) {
        for (int target : o.descriptions[i].fds) {
          const Status placed = Place(fds[i], target, *o.descriptions[i].record);
          if (!placed.ok()) return placed.Annotate("recreate " + what);
          // The record now describes the new object (the census compares inodes).
          struct stat st {};
          if (fstat(target, &st) == 0) table_.at(target)->inode = st.st_ino;
          tally.Add(*table_.at(target));
        }
      }
      for (size_t i = 0; i < fds.size(); ++i) {
        bool is_target = false;
        for (const Description& d : o.descriptions)
          for (int t : d.fds) is_target |= t == fds[i];
        bool closed_before = false;
        for (size_t j = 0; j < i; ++j) closed_before |= fds[j] == fds[i];
        if (!is_target && !closed_before && fds[i] >= 0) close(fds[i]);
      }
    }
  }

  for (int fd : g_placeholders) {
    const FdRecord* r = table_.at(fd);
    if (r == nullptr || r->kind == FdKind::kNone || r->kind == FdKind::kUnsupported || r->kind == FdKind::kInherited)
      close(fd);
  }
  g_placeholders.clear();

  RestoreStdio(h->stdio, heap_, &report->warnings);

  SignalsRecreated sig;
  RESPCT_RETURN_IF_ERROR(RecreateSignals(h, options.trampoline, options.own_signals.data(),
                                         static_cast<int>(options.own_signals.size()), &sig));

  // "restored 23 fds: 4 tcp listeners, 5 epoll, ..., 2 pipe ends (3.1 KiB
  // buffered), 5 files; 3 signal handlers, 1 ignored, working directory"
  report->summary = "restored " + tally.Text() + "; " +
                    Plural(sig.handlers, "signal handler", "signal handlers") + ", " +
                    std::to_string(sig.ignored) + " ignored" +
                    (sig.timers != 0 ? ", " + Plural(sig.timers, "interval timer", "interval timers") : "") +
                    (attrs.rlimits != 0 ? ", " + Plural(attrs.rlimits, "resource limit", "resource limits") : "") +
                    (attrs.cwd ? ", working directory" : "");
  (void)inherited_missing;
  return Status::OK();
}

}  // namespace respct::kernel
