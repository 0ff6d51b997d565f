// FrameSocket: the FrameChannel of a stream connection (TCP or unix). Used by
// the tcp and shm client transports and by respct-memnode's connection
// handlers alike.
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
#include "runtime/transport/frame_channel.h"
#include "runtime/wire/message.h"

namespace respct {

class FrameSocket final : public FrameChannel {
 public:
  FrameSocket() = default;
  explicit FrameSocket(int fd) : fd_(fd) {}
  ~FrameSocket() override { Close(); }
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
  // Hands the descriptor to the caller (the socket becomes invalid).
  int Release() {
    const int f = fd_;
    fd_ = -1;
    return f;
  }
  int fd() const { return fd_; }
  void Close();
  // Half-closes the write side: the peer's next receive sees end of stream.
  void ShutdownWrite();

  Status SendParts(wire::MsgType type, const void* a, size_t alen, const void* b, size_t blen,
                   int pass_fd) override;
  // Waits at most `timeout_ms` (< 0: forever) for the first byte and for
  // each later part. End of stream is kUnavailable.
  Status Receive(Frame* out, int timeout_ms) override;
  Status WaitForMessage(int timeout_ms) override { return WaitReadable(timeout_ms); }
  // The kernel delivers what was written before a shutdown: nothing to wait for.
  Status Flush(int) override { return Status::OK(); }
  // Both directions: the peer sees end of stream; the descriptor stays open
  // (and is not reused) until Close or destruction.
  void Shutdown() override;

  Status SendRaw(const void* data, size_t len) override;

 private:
  Status WaitReadable(int timeout_ms);
  Status ReadExact(void* dst, size_t len, int timeout_ms, int* passed_fd);
  int fd_ = -1;
};

}  // namespace respct
