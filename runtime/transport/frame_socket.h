// FrameSocket: one end of a stream connection (TCP or unix) that carries
// respct's framed messages (runtime/wire/message.h). Used by the tcp and shm
// client transports and by respct-memnode's connection handlers alike.
//
// Every receive is bounded by a timeout and validates the frame header before
// reading the payload, so a peer sending garbage gets a Corruption status, not
// a hang or a huge allocation. Sends use MSG_NOSIGNAL: a vanished peer is a
// kUnavailable status, never SIGPIPE. Not thread-safe: one thread per socket
// direction at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <unistd.h>
#include <string>
#include <vector>

#include "runtime/base/status.h"
#include "runtime/wire/message.h"

namespace respct {

// A received message. `fd` is a descriptor passed with it (SCM_RIGHTS), or -1;
// the receiver owns it.
struct Frame {
  wire::FrameHeader header{};
  std::vector<uint8_t> payload;
  int fd = -1;

  Frame() = default;
  ~Frame() {
    if (fd >= 0) ::close(fd);
  }
  Frame(const Frame&) = delete;
  Frame& operator=(const Frame&) = delete;
  // Hands the passed descriptor to the caller.
  int TakeFd() {
    const int f = fd;
    fd = -1;
    return f;
  }

  wire::MsgType type() const { return static_cast<wire::MsgType>(header.type); }
  // Copies the fixed-size struct at the start of the payload (sizes were
  // checked against the type by CheckFrameHeader).
  template <typename T>
  T As() const {
    T v{};
    std::memcpy(&v, payload.data(), sizeof(T) <= payload.size() ? sizeof(T) : payload.size());
    return v;
  }
};

class FrameSocket {
 public:
  FrameSocket() = default;
  explicit FrameSocket(int fd) : fd_(fd) {}
  ~FrameSocket() { Close(); }
  FrameSocket(FrameSocket&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  FrameSocket& operator=(FrameSocket&& o) noexcept {
    if (this != &o) {
      Close();
      fd_ = o.fd_;
      o.fd_ = -1;
    }
    return *this;
  }
  FrameSocket(const FrameSocket&) = delete;
  FrameSocket& operator=(const FrameSocket&) = delete;

  static Result<FrameSocket> ConnectTcp(const std::string& host, uint16_t port, int timeout_ms);
  static Result<FrameSocket> ConnectUnix(const std::string& path, int timeout_ms);

  bool valid() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  void Close();
  // Half-closes the write side: the peer's next receive sees end of stream.
  void ShutdownWrite();

  // Sends header + `a` + `b` (either may be empty) as one message; with
  // `pass_fd` >= 0 the descriptor travels along (unix sockets only).
  Status Send(wire::MsgType type, const void* a, size_t alen, const void* b = nullptr, size_t blen = 0,
              int pass_fd = -1);
  template <typename T>
  Status SendStruct(wire::MsgType type, const T& msg) {
    return Send(type, &msg, sizeof msg);
  }
  // Sends an Error message carrying `st`'s code and message.
  Status SendError(const Status& st);

  // Receives one message, waiting at most `timeout_ms` (< 0: forever) for
  // its first byte and for each later part. End of stream is kUnavailable.
  Status Receive(Frame* out, int timeout_ms);
  // Receives a message that must be of type `want`; an Error message from the
  // peer is turned back into its Status, any other type is Corruption.
  Status Expect(wire::MsgType want, Frame* out, int timeout_ms);

  // Raw bytes, for tests that speak garbage to a memnode.
  Status SendRaw(const void* data, size_t len);

 private:
  Status WaitReadable(int timeout_ms);
  Status ReadExact(void* dst, size_t len, int timeout_ms, int* passed_fd);
  int fd_ = -1;
};

// Turns an Error message's payload into the Status it carries.
Status StatusFromErrorFrame(const Frame& f);

}  // namespace respct
