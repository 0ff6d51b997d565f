#include "runtime/kernel/kind_ops.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <cstdio>
#include <cstring>

#include "runtime/heap/heap.h"
#include "runtime/kernel/pipe.h"
#include "runtime/kernel/socket_pair.h"
#include "runtime/kernel/socket_record.h"

namespace respct::kernel {

extern const KindOps kFileOps, kPipeOps, kSocketPairOps, kUnixSocketOps, kInetSocketOps, kEventFdOps, kTimerFdOps,
    kSignalFdOps, kEpollOps, kMemFdOps;

const KindOps* OpsFor(FdKind kind) {
  switch (kind) {
    case FdKind::kFile: return &kFileOps;
    case FdKind::kPipe: return &kPipeOps;
    case FdKind::kSocketPair: return &kSocketPairOps;
    case FdKind::kUnixSocket: return &kUnixSocketOps;
    case FdKind::kInetSocket: return &kInetSocketOps;
    case FdKind::kEventFd: return &kEventFdOps;
    case FdKind::kTimerFd: return &kTimerFdOps;
    case FdKind::kSignalFd: return &kSignalFdOps;
    case FdKind::kEpoll: return &kEpollOps;
    case FdKind::kMemFd: return &kMemFdOps;
    case FdKind::kNone:
    case FdKind::kInherited:
    case FdKind::kUnsupported: return nullptr;
  }
  return nullptr;
}

bool CaptureContext::Reserve(HeldBytes* h, size_t n) {
  if (n <= h->capacity && h->data != 0) return true;
  if (n > UINT32_MAX) return false;
  size_t cap = h->capacity == 0 ? 4096 : h->capacity;
  while (cap < n) cap *= 2;
  void* p = heap->Malloc(cap);
  if (p == nullptr) return false;
  if (h->data != 0) heap->Free(reinterpret_cast<void*>(h->data));
  h->data = reinterpret_cast<uint64_t>(p);
  h->capacity = static_cast<uint32_t>(cap);
  h->length = 0;
  return true;
}

std::string DescribeSockaddr(const void* addr, uint32_t len) {
  const auto* sa = static_cast<const sockaddr*>(addr);
  if (len < sizeof(sa_family_t)) return "(no address)";
  char buf[INET6_ADDRSTRLEN + 16];
  switch (sa->sa_family) {
    case AF_INET: {
      const auto* a = static_cast<const sockaddr_in*>(addr);
      char ip[INET_ADDRSTRLEN];
      inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
      std::snprintf(buf, sizeof buf, "%s:%u", ip, ntohs(a->sin_port));
      return buf;
    }
    case AF_INET6: {
      const auto* a = static_cast<const sockaddr_in6*>(addr);
      char ip[INET6_ADDRSTRLEN];
      inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof ip);
      std::snprintf(buf, sizeof buf, "[%s]:%u", ip, ntohs(a->sin6_port));
      return buf;
    }
    case AF_UNIX: {
      const auto* a = static_cast<const sockaddr_un*>(addr);
      const size_t n = len - offsetof(sockaddr_un, sun_path);
      if (len <= offsetof(sockaddr_un, sun_path)) return "(unnamed)";
      if (a->sun_path[0] == '\0') return "@" + std::string(a->sun_path + 1, strnlen(a->sun_path + 1, n - 1));
      return std::string(a->sun_path, strnlen(a->sun_path, n));
    }
  }
  return "(family " + std::to_string(sa->sa_family) + ")";
}

std::string FormatBytes(uint64_t n) {
  char buf[32];
  if (n < 1024) std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(n));
  else if (n < (1 << 20)) std::snprintf(buf, sizeof buf, "%.1f KiB", double(n) / 1024);
  else std::snprintf(buf, sizeof buf, "%.1f MiB", double(n) / (1 << 20));
  return buf;
}

}  // namespace respct::kernel

namespace respct::kernel {
namespace {

enum Category {
  kTcpListener, kTcpSocket, kUdpSocket, kUnixListener, kUnixSocket, kSocketPairEnd, kEpollSet, kEventFdCat,
  kTimerFdCat, kSignalFdCat, kPipeEnd, kMemFdCat, kFileCat, kOther,
};
struct CategoryName {
  const char* one;
  const char* many;
};
constexpr CategoryName kCategoryNames[] = {
    {"tcp listener", "tcp listeners"}, {"tcp socket", "tcp sockets"}, {"udp socket", "udp sockets"},
    {"unix listener", "unix listeners"}, {"unix socket", "unix sockets"}, {"socketpair end", "socketpair ends"},
    {"epoll", "epoll"}, {"eventfd", "eventfd"}, {"timerfd", "timerfd"}, {"signalfd", "signalfd"},
    {"pipe end", "pipe ends"}, {"memfd", "memfds"}, {"file", "files"}, {"other", "other"},
};

Category CategoryOf(const FdRecord& r) {
  switch (r.kind) {
    case FdKind::kInetSocket: {
      const SocketRecord* s = r.As<SocketRecord>();
      if (s->type == SOCK_DGRAM) return kUdpSocket;
      return s->state == kSocketListening ? kTcpListener : kTcpSocket;
    }
    case FdKind::kUnixSocket: return r.As<SocketRecord>()->state == kSocketListening ? kUnixListener : kUnixSocket;
    case FdKind::kSocketPair: return kSocketPairEnd;
    case FdKind::kEpoll: return kEpollSet;
    case FdKind::kEventFd: return kEventFdCat;
    case FdKind::kTimerFd: return kTimerFdCat;
    case FdKind::kSignalFd: return kSignalFdCat;
    case FdKind::kPipe: return kPipeEnd;
    case FdKind::kMemFd: return kMemFdCat;
    case FdKind::kFile: return kFileCat;
    default: return kOther;
  }
}

}  // namespace

void RestoreTally::Add(const FdRecord& r) {
  static_assert(sizeof kCategoryNames / sizeof kCategoryNames[0] == kCategories);
  const Category c = CategoryOf(r);
  ++counts_[c];
  ++total_;
  if (c == kPipeEnd && r.As<PipeRecord>()->end == 0) pipe_bytes_ += r.As<PipeRecord>()->buffered.length;
  if (c == kSocketPairEnd) socketpair_bytes_ += r.As<SocketPairRecord>()->queued.length;
}

std::string RestoreTally::Text() const {
  std::string s = std::to_string(total_) + (total_ == 1 ? " fd" : " fds");
  std::string parts;
  for (int c = 0; c < kCategories; ++c) {
    if (counts_[c] == 0) continue;
    parts += (parts.empty() ? "" : ", ") + std::to_string(counts_[c]) + " " +
             (counts_[c] == 1 ? kCategoryNames[c].one : kCategoryNames[c].many);
    if (c == kPipeEnd && pipe_bytes_ != 0) parts += " (" + FormatBytes(pipe_bytes_) + " buffered)";
    if (c == kSocketPairEnd && socketpair_bytes_ != 0) parts += " (" + FormatBytes(socketpair_bytes_) + " buffered)";
  }
  return parts.empty() ? s : s + ": " + parts;
}

}  // namespace respct::kernel
