#include "bench/commit_bw/raw_baselines.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

namespace respct::bench {
namespace {

using Clock = std::chrono::steady_clock;

double Since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

bool ReadAll(int fd, void* p, size_t n) {
  auto* b = static_cast<uint8_t*>(p);
  while (n > 0) {
    const ssize_t r = read(fd, b, n);
    if (r <= 0) return false;
    b += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

bool WriteAll(int fd, const void* p, size_t n) {
  const auto* b = static_cast<const uint8_t*>(p);
  while (n > 0) {
    const ssize_t r = send(fd, b, n, MSG_NOSIGNAL);
    if (r <= 0) return false;
    b += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

// A connected 127.0.0.1 TCP pair {client, server}, TCP_NODELAY like the transport.
std::pair<int, int> TcpPair() {
  const int l = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  bind(l, reinterpret_cast<sockaddr*>(&a), sizeof a);
  listen(l, 1);
  getsockname(l, reinterpret_cast<sockaddr*>(&a), &len);
  const int c = socket(AF_INET, SOCK_STREAM, 0);
  connect(c, reinterpret_cast<sockaddr*>(&a), sizeof a);
  const int s = accept(l, nullptr, nullptr);
  close(l);
  const int one = 1;
  setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return {c, s};
}

double RoundTripMicros(int c, int s, size_t request, double seconds) {
  std::thread echo([s, request] {
    std::vector<uint8_t> buf(request);
    uint8_t reply[16] = {};
    while (ReadAll(s, buf.data(), request) && WriteAll(s, reply, sizeof reply)) {
    }
  });
  std::vector<uint8_t> req(request, 1);
  uint8_t reply[16];
  std::vector<double> us;
  const auto t0 = Clock::now();
  while (Since(t0) < seconds) {
    const auto t = Clock::now();
    if (!WriteAll(c, req.data(), req.size()) || !ReadAll(c, reply, sizeof reply)) break;
    us.push_back(Since(t) * 1e6);
  }
  shutdown(c, SHUT_RDWR);
  echo.join();
  close(c);
  close(s);
  if (us.empty()) return 0;
  std::nth_element(us.begin(), us.begin() + us.size() / 2, us.end());
  return us[us.size() / 2];
}

}  // namespace

double MemcpyBandwidth(size_t chunk, double seconds) {
  // Ring-sized buffers, so the copy streams through memory as a ring does.
  constexpr size_t kBytes = 64 << 20;
  std::unique_ptr<uint8_t[]> src(new uint8_t[kBytes]), dst(new uint8_t[kBytes]);
  std::memset(src.get(), 0x5A, kBytes);
  std::memset(dst.get(), 0, kBytes);
  uint64_t copied = 0;
  size_t off = 0;
  const auto t0 = Clock::now();
  double elapsed = 0;
  do {
    for (int i = 0; i < 1024; ++i) {
      if (off + chunk > kBytes) off = 0;
      std::memcpy(dst.get() + off, src.get() + off, chunk);
      off += chunk;
      copied += chunk;
    }
    elapsed = Since(t0);
  } while (elapsed < seconds);
  // Keep the copies observable so they are not optimised away.
  volatile uint8_t sink = dst[copied % kBytes];
  (void)sink;
  return static_cast<double>(copied) / elapsed;
}

double LoopbackTcpBandwidth(double seconds) {
  auto [c, s] = TcpPair();
  constexpr size_t kChunk = 256 << 10;  // the batch size of the tcp transport
  uint64_t received = 0;
  Clock::time_point done;
  std::thread receiver([s = s, &received, &done] {
    std::vector<uint8_t> buf(kChunk);
    for (ssize_t n; (n = read(s, buf.data(), buf.size())) > 0;) received += static_cast<uint64_t>(n);
    done = Clock::now();
  });
  std::vector<uint8_t> buf(kChunk, 0x33);
  const auto t0 = Clock::now();
  while (Since(t0) < seconds && WriteAll(c, buf.data(), buf.size())) {
  }
  shutdown(c, SHUT_WR);
  receiver.join();
  close(c);
  close(s);
  return static_cast<double>(received) / std::chrono::duration<double>(done - t0).count();
}

double UnixRoundTripMicros(size_t request, double seconds) {
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0) return 0;
  return RoundTripMicros(fds[0], fds[1], request, seconds);
}

double TcpRoundTripMicros(size_t request, double seconds) {
  auto [c, s] = TcpPair();
  return RoundTripMicros(c, s, request, seconds);
}

}  // namespace respct::bench
