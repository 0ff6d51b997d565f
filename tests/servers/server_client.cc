#include "tests/servers/server_client.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

namespace respct::servertest {

TcpConn::~TcpConn() { Close(); }

void TcpConn::Close() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
  buf_.clear();
  pos_ = 0;
}

bool TcpConn::Connect(uint16_t port, int timeout_ms) {
  Close();
  fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return false;
  timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);  // bounds connect() too
  const int one = 1;
  setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd_, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0) {
    Close();
    return false;
  }
  return true;
}

bool TcpConn::SendAll(const std::string& data) {
  size_t off = 0;
  while (fd_ >= 0 && off < data.size()) {
    const ssize_t n = send(fd_, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      Close();
      return false;
    }
    off += static_cast<size_t>(n);
  }
  return fd_ >= 0;
}

bool TcpConn::Fill() {
  if (fd_ < 0) return false;
  if (pos_ > 0) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
  char tmp[16384];
  for (;;) {
    const ssize_t n = recv(fd_, tmp, sizeof tmp, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {  // EOF, error, or the receive timeout
      Close();
      return false;
    }
    buf_.append(tmp, static_cast<size_t>(n));
    return true;
  }
}

std::optional<std::string> TcpConn::ReadLine() {
  for (;;) {
    const size_t eol = buf_.find("\r\n", pos_);
    if (eol != std::string::npos) {
      std::string line = buf_.substr(pos_, eol - pos_);
      pos_ = eol + 2;
      return line;
    }
    if (!Fill()) return std::nullopt;
  }
}

std::optional<std::string> TcpConn::ReadN(size_t n) {
  while (buf_.size() - pos_ < n)
    if (!Fill()) return std::nullopt;
  std::string out = buf_.substr(pos_, n);
  pos_ += n;
  return out;
}

bool WaitForListener(uint16_t port, int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    TcpConn c;
    if (c.Connect(port, 1000)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

bool MemcacheClient::Set(const std::string& key, const std::string& value) {
  if (!c_.SendAll("set " + key + " 0 0 " + std::to_string(value.size()) + "\r\n" + value + "\r\n")) return false;
  const auto line = c_.ReadLine();
  return line && *line == "STORED";
}

std::optional<std::map<std::string, std::string>> MemcacheClient::GetMany(const std::vector<std::string>& keys) {
  std::string cmd = "get";
  for (const std::string& k : keys) cmd += " " + k;
  if (!c_.SendAll(cmd + "\r\n")) return std::nullopt;
  std::map<std::string, std::string> out;
  for (;;) {
    const auto line = c_.ReadLine();
    if (!line) return std::nullopt;
    if (*line == "END") return out;
    // VALUE <key> <flags> <bytes>
    char key[251];
    unsigned flags = 0;
    size_t bytes = 0;
    if (std::sscanf(line->c_str(), "VALUE %250s %u %zu", key, &flags, &bytes) != 3) return std::nullopt;
    const auto data = c_.ReadN(bytes + 2);
    if (!data) return std::nullopt;
    out[key] = data->substr(0, bytes);
  }
}

std::optional<std::map<std::string, std::string>> MemcacheClient::Stats() {
  if (!c_.SendAll("stats\r\n")) return std::nullopt;
  std::map<std::string, std::string> out;
  for (;;) {
    const auto line = c_.ReadLine();
    if (!line) return std::nullopt;
    if (*line == "END") return out;
    if (line->rfind("STAT ", 0) != 0) return std::nullopt;
    const size_t sp = line->find(' ', 5);
    if (sp == std::string::npos) return std::nullopt;
    out[line->substr(5, sp - 5)] = line->substr(sp + 1);
  }
}

std::optional<RespReply> RespClient::Command(const std::vector<std::string>& args) {
  std::string cmd = "*" + std::to_string(args.size()) + "\r\n";
  for (const std::string& a : args) cmd += "$" + std::to_string(a.size()) + "\r\n" + a + "\r\n";
  if (!c_.SendAll(cmd)) return std::nullopt;
  return ReadReply(0);
}

std::optional<RespReply> RespClient::ReadReply(int depth) {
  const auto line = c_.ReadLine();
  if (!line || line->empty() || depth > 4) return std::nullopt;
  RespReply r;
  r.type = (*line)[0];
  const std::string rest = line->substr(1);
  switch (r.type) {
    case '+':
    case '-':
      r.str = rest;
      return r;
    case ':':
      r.integer = std::stoll(rest);
      return r;
    case '$': {
      const long n = std::stol(rest);
      if (n < 0) {
        r.is_nil = true;
        return r;
      }
      const auto data = c_.ReadN(static_cast<size_t>(n) + 2);
      if (!data) return std::nullopt;
      r.str = data->substr(0, static_cast<size_t>(n));
      return r;
    }
    case '*': {
      const long n = std::stol(rest);
      if (n < 0) {
        r.is_nil = true;
        return r;
      }
      for (long i = 0; i < n; ++i) {
        auto e = ReadReply(depth + 1);
        if (!e) return std::nullopt;
        r.elements.push_back(std::move(*e));
      }
      return r;
    }
    default:
      return std::nullopt;
  }
}

}  // namespace respct::servertest
