// What the fuzz targets share: FuzzBytes, a cursor that cuts values out of
// the fuzzer's input, and ScriptedChannel, a FrameChannel whose peer is the
// harness — the frames it delivers are produced on demand (from the input),
// and what the code under test sends is handed to the harness, which may
// answer it (a handshake proof, a reply built from a request).
//
// Received frames go through wire::CheckFrameHeader exactly as FrameSocket
// and VerbsChannel do, so the code under test sees only what a real channel
// would let through, and a raw frame with a bad header is the same
// Corruption a socket would report.
#pragma once

#include <cstddef>
#include <cstdint>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <deque>
#include <functional>
#include <utility>
#include <vector>

#include "runtime/base/status.h"
#include "runtime/transport/frame_channel.h"
#include "runtime/wire/message.h"

namespace respct::fuzz {

// Reads little-endian values from the input; past its end every read is
// zero and Take returns fewer bytes, so a harness never reads out of bounds
// and every input, however short, is a complete script.
class FuzzBytes {
 public:
  FuzzBytes(const uint8_t* data, size_t size) : data_(data), size_(size) {}

  bool empty() const { return at_ == size_; }
  size_t remaining() const { return size_ - at_; }

  uint8_t U8() { return static_cast<uint8_t>(Int(1)); }
  uint16_t U16() { return static_cast<uint16_t>(Int(2)); }
  uint32_t U32() { return static_cast<uint32_t>(Int(4)); }
  uint64_t U64() { return Int(8); }

  // Up to `n` bytes (fewer at the end of the input).
  std::vector<uint8_t> Take(size_t n) {
    n = std::min(n, remaining());
    std::vector<uint8_t> out(data_ + at_, data_ + at_ + n);
    at_ += n;
    return out;
  }

 private:
  uint64_t Int(size_t bytes) {
    uint64_t v = 0;
    const size_t n = std::min(bytes, remaining());
    std::memcpy(&v, data_ + at_, n);
    at_ += n;
    return v;
  }

  const uint8_t* data_;
  size_t size_;
  size_t at_ = 0;
};

// A wire struct from the first bytes of `b` (zero where `b` is shorter).
template <typename T>
T FromBytes(const std::vector<uint8_t>& b) {
  T v{};
  if (!b.empty()) std::memcpy(&v, b.data(), std::min(sizeof v, b.size()));
  return v;
}

// A fixed-size wire struct as payload bytes, followed by `tail`.
template <typename T>
std::vector<uint8_t> Payload(const T& msg, const void* tail = nullptr, size_t tail_len = 0) {
  std::vector<uint8_t> out(sizeof msg + tail_len);
  std::memcpy(out.data(), &msg, sizeof msg);
  if (tail_len != 0) std::memcpy(out.data() + sizeof msg, tail, tail_len);
  return out;
}

class ScriptedChannel final : public FrameChannel {
 public:
  // Called for every message the code under test sends; `fd` is a passed
  // descriptor or -1 (the sender keeps ownership).
  using SendHook = std::function<void(wire::MsgType type, const std::vector<uint8_t>& payload, int fd)>;
  // Called when the queue is empty and a frame is wanted: queue one or more
  // and return true, or return false when the script is over (the peer
  // "left"). It must consume input each time, so that every script ends.
  using RefillHook = std::function<bool()>;

  ScriptedChannel(SendHook on_send, RefillHook refill) : on_send_(std::move(on_send)), refill_(std::move(refill)) {}

  // Queues a frame; `type` is any 16-bit value, valid or not.
  void Deliver(uint16_t type, std::vector<uint8_t> payload) { queue_.push_back({type, std::move(payload)}); }
  void Deliver(wire::MsgType type, std::vector<uint8_t> payload) {
    Deliver(static_cast<uint16_t>(type), std::move(payload));
  }

  bool shut_down() const { return shut_down_; }

  Status SendParts(wire::MsgType type, const void* a, size_t alen, const void* b, size_t blen, int pass_fd) override {
    if (shut_down_) return Status::Unavailable("send after shutdown");
    std::vector<uint8_t> payload(alen + blen);
    if (alen != 0) std::memcpy(payload.data(), a, alen);
    if (blen != 0) std::memcpy(payload.data() + alen, b, blen);
    // What a receiving channel would check of it.
    RESPCT_RETURN_IF_ERROR(wire::CheckFrameHeader(wire::MakeFrameHeader(type, static_cast<uint32_t>(payload.size()))));
    if (on_send_) on_send_(type, payload, pass_fd);
    return Status::OK();
  }

  Status Receive(Frame* out, int) override {
    if (!Ready()) return Status::Unavailable("the script is over");
    auto [type, payload] = std::move(queue_.front());
    queue_.pop_front();
    if (out->fd >= 0) ::close(out->fd);
    out->fd = -1;
    out->header = wire::MakeFrameHeader(wire::MsgType::kHello, static_cast<uint32_t>(payload.size()));
    out->header.type = type;
    RESPCT_RETURN_IF_ERROR(wire::CheckFrameHeader(out->header));
    out->payload = std::move(payload);
    return Status::OK();
  }

  Status WaitForMessage(int) override { return Ready() ? Status::OK() : Status::Unavailable("the script is over"); }
  Status Flush(int) override { return Status::OK(); }
  void Shutdown() override { shut_down_ = true; }
  Status SendRaw(const void*, size_t) override { return Status::OK(); }

 private:
  bool Ready() {
    if (shut_down_) return false;
    if (queue_.empty() && (!refill_ || !refill_())) return false;
    return !queue_.empty();
  }

  SendHook on_send_;
  RefillHook refill_;
  std::deque<std::pair<uint16_t, std::vector<uint8_t>>> queue_;
  bool shut_down_ = false;
};

}  // namespace respct::fuzz
