// The test servers' clients' side: a bounded loopback connection, the
// line-protocol client of pause_server (one request, one numeric answer: the
// count of requests served) and the wait for the port a server listens on.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <thread>

#include "tests/shim/shim_test_util.h"

namespace respct::shimtest {

// A TCP connection to 127.0.0.1:`port` whose reads give up after
// `recv_timeout_s` (every wait in a test has a bound); -1 if it fails.
inline int ConnectLoopback(uint16_t port, int recv_timeout_s) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{recv_timeout_s, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// A line-protocol client of pause_server: one request, one numeric answer.
class CountClient {
 public:
  explicit CountClient(uint16_t port) : fd_(ConnectLoopback(port, 10)) {}
  ~CountClient() {
    if (fd_ >= 0) close(fd_);
  }
  bool ok() const { return fd_ >= 0; }
  // The server's count after this request, or -1.
  long Request() {
    if (write(fd_, "x\n", 2) != 2) return -1;
    std::string line;
    char c;
    while (read(fd_, &c, 1) == 1) {
      if (c == '\n') return std::stol(line);
      line += c;
    }
    return -1;
  }

 private:
  int fd_ = -1;
};

inline uint16_t WaitForPort(const std::string& file) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    const std::string s = ReadFile(file);
    if (!s.empty() && s.back() == '\n') return static_cast<uint16_t>(std::stoi(s));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return 0;
}

}  // namespace respct::shimtest
