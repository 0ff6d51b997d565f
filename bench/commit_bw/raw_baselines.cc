#include "bench/commit_bw/raw_baselines.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "runtime/transport/verbs_connection.h"

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

namespace {

// Runs a perftest pair: the server in the background, then the client
// against 127.0.0.1 (retried while the server is not listening yet: TCG
// guests start it slowly). Returns the client's output.
Result<std::string> RunPerftest(const std::string& tool, const std::string& args, uint16_t port) {
  // The device and GID index of 127.0.0.1, as the rdma:// transport finds them.
  auto where = FindRdmaPort("127.0.0.1");
  if (!where.ok()) return where.status();
  const std::string common = tool + " -F -d " + where->device + " -i " + std::to_string(where->port) + " -x " +
                             std::to_string(where->gid_index) + " -p " + std::to_string(port) + " " + args;
  FILE* server = popen((common + " 2>&1").c_str(), "r");
  if (server == nullptr) return Status::FromErrno("popen " + tool, errno);
  std::string out;
  bool ok = false;
  for (int attempt = 0; attempt < 20 && !ok; ++attempt) {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    FILE* client = popen((common + " 127.0.0.1 2>&1").c_str(), "r");
    if (client == nullptr) break;
    out.clear();
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, client)) > 0) out.append(buf, n);
    ok = pclose(client) == 0;
  }
  char buf[4096];
  while (fread(buf, 1, sizeof buf, server) > 0) {
  }
  pclose(server);
  if (!ok) return Status::Unavailable(tool + " failed: " + out.substr(out.size() > 400 ? out.size() - 400 : 0));
  return out;
}

// The numbers of perftest's result row: the line after the "#bytes" header.
std::vector<double> ResultRow(const std::string& out) {
  std::istringstream in(out);
  bool header = false;
  for (std::string line; std::getline(in, line);) {
    if (line.find("#bytes") != std::string::npos) {
      header = true;
      continue;
    }
    if (!header) continue;
    // strtod, not >>: perftest prints "inf" when its clock calibration fails.
    std::istringstream fields(line);
    std::vector<double> row;
    for (std::string word; fields >> word;) {
      char* end = nullptr;
      const double v = std::strtod(word.c_str(), &end);
      if (end == word.c_str()) break;
      row.push_back(v);
    }
    if (!row.empty()) return row;
  }
  return {};
}

}  // namespace

Result<double> PerftestWriteBandwidth(size_t size, uint16_t port) {
  // A fixed amount of data rather than -D: under TCG, perftest's timed mode
  // can end its measurement window before counting an iteration (0 MB/s).
  const uint64_t iterations = std::clamp<uint64_t>((64ull << 20) / size, 1000, 20000);
  auto out = RunPerftest("ib_write_bw", "-s " + std::to_string(size) + " -n " + std::to_string(iterations), port);
  if (!out.ok()) return out.status();
  // #bytes #iterations BW-peak BW-average MsgRate
  const std::vector<double> row = ResultRow(*out);
  if (row.size() < 4) return Status::Corruption("unexpected ib_write_bw output: " + *out);
  return row[3] * 1048576.0;
}

Result<double> PerftestWriteLatency(size_t size, uint16_t port) {
  // Under TCG perftest's estimate of the CPU clock sometimes fails ("r^2 <
  // 0.9") and it reports inf: try again a few times.
  for (int attempt = 0; attempt < 3; ++attempt) {
    auto out = RunPerftest("ib_write_lat", "-s " + std::to_string(size) + " -n 2000", port);
    if (!out.ok()) return out.status();
    // #bytes #iterations t_min t_max t_typical t_avg ...
    const std::vector<double> row = ResultRow(*out);
    if (row.size() < 5) return Status::Corruption("unexpected ib_write_lat output: " + *out);
    if (std::isfinite(row[4])) return row[4];
  }
  return Status::Unavailable("ib_write_lat could not calibrate its clock (reported inf three times)");
}

}  // namespace respct::bench
