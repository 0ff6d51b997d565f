// Minimal clients for the servers the tests run under respct: the memcached
// text protocol (set/get/stats) and redis's RESP (any command, replies
// parsed), over a TCP connection to 127.0.0.1. Every call is bounded: the
// socket has send and receive timeouts, so a hung server fails the call
// (false / nullopt), never the suite.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace respct::servertest {

class TcpConn {
 public:
  TcpConn() = default;
  ~TcpConn();
  TcpConn(const TcpConn&) = delete;
  TcpConn& operator=(const TcpConn&) = delete;
  // Connects to 127.0.0.1:port; `timeout_ms` bounds the connect and every later send/receive.
  bool Connect(uint16_t port, int timeout_ms);
  bool SendAll(const std::string& data);
  // A line without its "\r\n"; nullopt on error, timeout or EOF.
  std::optional<std::string> ReadLine();
  // Exactly n bytes.
  std::optional<std::string> ReadN(size_t n);
  bool connected() const { return fd_ >= 0; }
  void Close();

 private:
  bool Fill();
  int fd_ = -1;
  std::string buf_;
  size_t pos_ = 0;
};

// True once something accepts connections on 127.0.0.1:port (polls, bounded).
bool WaitForListener(uint16_t port, int timeout_ms);

class MemcacheClient {
 public:
  bool Connect(uint16_t port, int timeout_ms = 5000) { return c_.Connect(port, timeout_ms); }
  // set KEY 0 0 LEN; true on STORED.
  bool Set(const std::string& key, const std::string& value);
  // get K1 K2 ...: the values found; nullopt when the exchange failed.
  std::optional<std::map<std::string, std::string>> GetMany(const std::vector<std::string>& keys);
  // stats: name -> value; nullopt when it did not end with END.
  std::optional<std::map<std::string, std::string>> Stats();

 private:
  TcpConn c_;
};

// A RESP reply: simple string / error / integer / bulk (nil: is_nil) / array.
struct RespReply {
  char type = 0;  // '+', '-', ':', '$', '*'
  std::string str;
  int64_t integer = 0;
  bool is_nil = false;
  std::vector<RespReply> elements;
};

class RespClient {
 public:
  bool Connect(uint16_t port, int timeout_ms = 5000) { return c_.Connect(port, timeout_ms); }
  std::optional<RespReply> Command(const std::vector<std::string>& args);

 private:
  std::optional<RespReply> ReadReply(int depth);
  TcpConn c_;
};

}  // namespace respct::servertest
