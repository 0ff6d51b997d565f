#include "tools/inspect/fd_report.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>

#include "runtime/core/layout.h"
#include "runtime/kernel/epoll.h"
#include "runtime/kernel/kernel_state.h"
#include "runtime/kernel/kind_ops.h"
#include "runtime/kernel/pipe.h"
#include "runtime/kernel/regular_file.h"
#include "runtime/kernel/socket_pair.h"
#include "runtime/kernel/socket_record.h"
#include "runtime/base/json_string.h"
#include "tools/inspect/text_table.h"

namespace respct::inspect {
namespace {

namespace k = respct::kernel;

// Image bytes at a process address (the heap blocks records point to).
bool ReadAt(ImageSource* source, uint64_t addr, void* dst, size_t len) {
  for (const RegionSpec& r : source->regions()) {
    if (addr < r.base_addr || addr - r.base_addr > r.size || len > r.size - (addr - r.base_addr)) continue;
    return source->Read(r.id, addr - r.base_addr, dst, len).ok();
  }
  return false;
}

const char* const kRlimitNames[16] = {"CPU",   "FSIZE",      "DATA",     "STACK", "CORE",   "RSS",
                                      "NPROC", "NOFILE",     "MEMLOCK",  "AS",    "LOCKS", "SIGPENDING",
                                      "MSGQUEUE", "NICE", "RTPRIO", "RTTIME"};

std::string Limit(uint64_t v) { return v == RLIM64_INFINITY ? "unlimited" : std::to_string(v); }

std::string SignalName(int sig) {
  if (sig >= SIGRTMIN && sig <= SIGRTMAX) return "SIGRTMIN+" + std::to_string(sig - SIGRTMIN);
  const char* abbrev = sigabbrev_np(sig);
  return abbrev != nullptr ? std::string("SIG") + abbrev : "signal " + std::to_string(sig);
}

std::string Hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%#llx", static_cast<unsigned long long>(v));
  return buf;
}

std::string JoinInts(const std::vector<int>& v, const char* sep) {
  std::string s;
  for (int x : v) s += (s.empty() ? "" : sep) + std::to_string(x);
  return s;
}

}  // namespace

std::string StatusFlagsText(uint32_t flags) {
  std::string s;
  switch (flags & O_ACCMODE) {
    case O_RDONLY: s = "O_RDONLY"; break;
    case O_WRONLY: s = "O_WRONLY"; break;
    default: s = "O_RDWR"; break;
  }
  const std::pair<uint32_t, const char*> named[] = {{O_APPEND, "O_APPEND"}, {O_NONBLOCK, "O_NONBLOCK"},
                                                    {O_ASYNC, "O_ASYNC"},   {O_DIRECT, "O_DIRECT"},
                                                    {O_NOATIME, "O_NOATIME"}, {O_SYNC, "O_SYNC"}};
  for (const auto& [bit, name] : named)
    if ((flags & bit) == bit) s += std::string("|") + name;
  return s;
}

std::string EpollEventsText(uint32_t events) {
  const std::pair<uint32_t, const char*> named[] = {
      {EPOLLIN, "EPOLLIN"},         {EPOLLOUT, "EPOLLOUT"},       {EPOLLPRI, "EPOLLPRI"},
      {EPOLLRDHUP, "EPOLLRDHUP"},   {EPOLLERR, "EPOLLERR"},       {EPOLLHUP, "EPOLLHUP"},
      {EPOLLET, "EPOLLET"},         {EPOLLONESHOT, "EPOLLONESHOT"}, {EPOLLEXCLUSIVE, "EPOLLEXCLUSIVE"},
      {EPOLLWAKEUP, "EPOLLWAKEUP"}};
  std::string s;
  uint32_t rest = events;
  for (const auto& [bit, name] : named)
    if ((events & bit) != 0) {
      s += (s.empty() ? "" : "|") + std::string(name);
      rest &= ~bit;
    }
  if (rest != 0) s += (s.empty() ? "" : "|") + Hex(rest);
  return s.empty() ? "0" : s;
}

Result<FdReport> BuildFdReport(ImageSource* source) {
  const RegionSpec* region = source->region(core::kKernelRegion);
  if (region == nullptr) return Status::NotFound("the image of '" + source->app() + "' has no kernel region");
  auto header = std::make_unique<k::KernelStateHeader>();
  RESPCT_RETURN_IF_ERROR(source->Read(core::kKernelRegion, 0, header.get(), sizeof *header));
  if (header->magic != k::kKernelMagic || header->version != k::kKernelVersion)
    return Status::Corruption("the image's kernel region is not a respct kernel state (version " +
                              std::to_string(header->version) + ")");
  FdReport r;
  r.app = source->app();
  r.source = source->source();
  r.epoch = source->image_epoch();
  const int highest = std::min(header->highest_fd, k::kMaxFds - 1);
  const uint64_t stored = (region->size - k::kKernelHeaderBytes) / k::kFdRecordBytes;
  const int count = std::min<int>(highest + 1, static_cast<int>(stored));
  std::vector<k::FdRecord> records(static_cast<size_t>(std::max(count, 0)));
  if (count > 0)
    RESPCT_RETURN_IF_ERROR(
        source->Read(core::kKernelRegion, k::kKernelHeaderBytes, records.data(), records.size() * k::kFdRecordBytes));

  std::map<uint64_t, std::vector<int>> by_description;
  for (int fd = 0; fd < count; ++fd) {
    const k::FdRecord& rec = records[static_cast<size_t>(fd)];
    if (rec.kind == k::FdKind::kNone || rec.kind == k::FdKind::kInherited) continue;
    by_description[rec.description].push_back(fd);
  }
  for (int fd = 0; fd < count; ++fd) {
    const k::FdRecord& rec = records[static_cast<size_t>(fd)];
    if (rec.kind == k::FdKind::kNone || rec.kind == k::FdKind::kInherited) continue;
    FdInfo info;
    info.fd = fd;
    info.kind = k::FdKindName(rec.kind);
    info.status_flags = rec.status_flags;
    info.cloexec = (rec.fd_flags & FD_CLOEXEC) != 0;
    info.description = rec.description;
    for (int other : by_description[rec.description])
      if (other != fd) info.shares_with.push_back(other);
    const k::KindOps* ops = k::OpsFor(rec.kind);
    switch (rec.kind) {
      case k::FdKind::kFile: {
        const auto* f = rec.As<k::FileRecord>();
        info.path = f->path_too_long != 0 ? "" : std::string(f->path, strnlen(f->path, sizeof f->path));
        if (f->file_type == S_IFREG || f->file_type == S_IFBLK) info.offset = static_cast<int64_t>(f->offset);
        break;
      }
      case k::FdKind::kPipe: {
        const auto* p = rec.As<k::PipeRecord>();
        if (p->end == 0) info.buffered = p->buffered.length;
        break;
      }
      case k::FdKind::kSocketPair: info.buffered = rec.As<k::SocketPairRecord>()->queued.length; break;
      case k::FdKind::kInetSocket:
      case k::FdKind::kUnixSocket: {
        const auto* s = rec.As<k::SocketRecord>();
        if (s->local_len != 0) info.path = k::DescribeSockaddr(&s->local, s->local_len);
        break;
      }
      case k::FdKind::kEpoll: {
        const auto* e = rec.As<k::EpollRecord>();
        std::vector<k::EpollEntry> list(e->count);
        if (e->count != 0 && (e->entries == 0 || !ReadAt(source, e->entries, list.data(),
                                                          list.size() * sizeof(k::EpollEntry))))
          return Status::Corruption("epoll fd " + std::to_string(fd) + ": its interest list is not in the image");
        for (const k::EpollEntry& x : list)
          info.interest.push_back(EpollInterest{x.fd, x.events, x.data, x.disarmed != 0});
        info.what = "epoll, " + std::to_string(e->count) + (e->count == 1 ? " entry" : " entries");
        break;
      }
      case k::FdKind::kUnsupported:
        info.restorable = false;
        info.what = "cannot be recreated: " +
                    std::string(reinterpret_cast<const char*>(rec.body), strnlen(reinterpret_cast<const char*>(rec.body), 256));
        break;
      default: break;
    }
    // The epoll describe reads its list through a pointer into the heap:
    // done above from the image instead.
    if (info.what.empty() && ops != nullptr && rec.kind != k::FdKind::kEpoll) info.what = ops->describe(rec);
    r.fds.push_back(std::move(info));
  }

  for (int sig = 1; sig < k::kMaxSignals; ++sig) {
    const k::SignalDisposition& d = header->signals[sig];
    if (d.recorded == 0) continue;
    SignalInfo s;
    s.signal = sig;
    s.name = SignalName(sig);
    s.handler = d.handler;
    s.flags = d.flags;
    s.disposition = d.handler == reinterpret_cast<uint64_t>(SIG_IGN)   ? "ignored"
                    : d.handler == reinterpret_cast<uint64_t>(SIG_DFL) ? "default"
                                                                       : "handler";
    r.signals.push_back(s);
  }
  const k::ProcessAttributes& p = header->process;
  r.cwd = std::string(p.cwd, strnlen(p.cwd, sizeof p.cwd));
  if (p.umask_set != 0) r.umask = static_cast<int>(p.umask);
  for (int i = 0; i < 16; ++i)
    if ((p.rlimit_set & (1u << i)) != 0)
      r.rlimits.push_back(std::string(kRlimitNames[i]) + " " + Limit(p.rlimits[i].rlim_cur) + "/" +
                          Limit(p.rlimits[i].rlim_max));
  for (uint32_t i = 0; i < header->children && i < 8; ++i)
    r.children.push_back(std::to_string(header->child_pids[i]) + " (" +
                         std::string(header->child_names[i], strnlen(header->child_names[i], 16)) + ")");
  return r;
}

std::string FormatFdsText(const FdReport& r) {
  std::string out = "app " + r.app + ", epoch " + std::to_string(r.epoch) + " (" + r.source + "): " +
                    std::to_string(r.fds.size()) + (r.fds.size() == 1 ? " descriptor" : " descriptors") +
                    " to recreate\n";
  std::vector<TableRow> rows = {{"FD", "KIND", "WHAT", "OFFSET", "FLAGS", "CLOEXEC", "SHARES"}};
  for (const FdInfo& f : r.fds)
    rows.push_back({std::to_string(f.fd), f.kind, f.what, f.offset >= 0 ? std::to_string(f.offset) : "-",
                    StatusFlagsText(f.status_flags), f.cloexec ? "yes" : "no",
                    f.shares_with.empty() ? "-" : JoinInts(f.shares_with, ",")});
  out += FormatTextTable(rows, {false, true, true, false, true, true, true});
  for (const FdInfo& f : r.fds) {
    if (f.kind != "epoll") continue;
    out += "\nepoll fd " + std::to_string(f.fd) + " interest list:\n";
    std::vector<TableRow> list = {{"  FD", "EVENTS", "DATA", ""}};
    for (const EpollInterest& e : f.interest)
      list.push_back({"  " + std::to_string(e.fd), EpollEventsText(e.events), Hex(e.data), e.disarmed ? "(fired)" : ""});
    out += FormatTextTable(list, {false, true, false, true});
  }
  if (!r.signals.empty()) {
    out += "\nsignal dispositions:\n";
    std::vector<TableRow> sigs = {{"  SIGNAL", "DISPOSITION", "HANDLER", "FLAGS"}};
    for (const SignalInfo& s : r.signals)
      sigs.push_back({"  " + s.name, s.disposition, s.disposition == "handler" ? Hex(s.handler) : "-", Hex(s.flags)});
    out += FormatTextTable(sigs, {true, true, false, false});
  }
  std::string process;
  if (!r.cwd.empty()) process += "cwd " + r.cwd;
  if (r.umask >= 0) {
    char m[16];
    std::snprintf(m, sizeof m, "%03o", static_cast<unsigned>(r.umask) & 0777u);
    process += (process.empty() ? "" : ", ") + std::string("umask ") + m;
  }
  for (const std::string& l : r.rlimits) process += (process.empty() ? "rlimit " : ", rlimit ") + l;
  if (!process.empty()) out += "\nprocess: " + process + "\n";
  if (!r.children.empty()) {
    out += "\nchild processes (not recreated):";
    for (const std::string& c : r.children) out += " " + c;
    out += "\n";
  }
  return out;
}

std::string FormatFdsJson(const FdReport& r) {
  std::string out = "{\"app\": " + JsonString(r.app) + ", \"source\": " + JsonString(r.source) +
                    ", \"epoch\": " + std::to_string(r.epoch) + ", \"fds\": [";
  for (size_t i = 0; i < r.fds.size(); ++i) {
    const FdInfo& f = r.fds[i];
    out += std::string(i == 0 ? "" : ", ") + "{\"fd\": " + std::to_string(f.fd) + ", \"kind\": " + JsonString(f.kind) +
           ", \"what\": " + JsonString(f.what) + ", \"path\": " + JsonString(f.path) +
           ", \"offset\": " + (f.offset >= 0 ? std::to_string(f.offset) : "null") +
           ", \"buffered_bytes\": " + std::to_string(f.buffered) +
           ", \"status_flags\": " + JsonString(StatusFlagsText(f.status_flags)) +
           ", \"cloexec\": " + (f.cloexec ? "true" : "false") + ", \"description\": " + std::to_string(f.description) +
           ", \"shares_with\": [" + JoinInts(f.shares_with, ", ") + "], \"restorable\": " +
           (f.restorable ? "true" : "false");
    if (f.kind == "epoll") {
      out += ", \"interest\": [";
      for (size_t j = 0; j < f.interest.size(); ++j) {
        const EpollInterest& e = f.interest[j];
        out += std::string(j == 0 ? "" : ", ") + "{\"fd\": " + std::to_string(e.fd) + ", \"events\": " +
               std::to_string(e.events) + ", \"events_text\": " + JsonString(EpollEventsText(e.events)) +
               ", \"data\": " + std::to_string(e.data) + ", \"disarmed\": " + (e.disarmed ? "true" : "false") + "}";
      }
      out += "]";
    }
    out += "}";
  }
  out += "], \"signals\": [";
  for (size_t i = 0; i < r.signals.size(); ++i) {
    const SignalInfo& s = r.signals[i];
    out += std::string(i == 0 ? "" : ", ") + "{\"signal\": " + std::to_string(s.signal) + ", \"name\": " +
           JsonString(s.name) + ", \"disposition\": " + JsonString(s.disposition) + ", \"handler\": " +
           std::to_string(s.handler) + ", \"flags\": " + std::to_string(s.flags) + "}";
  }
  out += "], \"cwd\": " + JsonString(r.cwd) + ", \"umask\": " + (r.umask >= 0 ? std::to_string(r.umask) : "null") +
         ", \"rlimits\": [";
  for (size_t i = 0; i < r.rlimits.size(); ++i) out += std::string(i == 0 ? "" : ", ") + JsonString(r.rlimits[i]);
  out += "], \"children\": [";
  for (size_t i = 0; i < r.children.size(); ++i) out += std::string(i == 0 ? "" : ", ") + JsonString(r.children[i]);
  out += "]}\n";
  return out;
}

}  // namespace respct::inspect
