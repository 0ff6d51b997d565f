// FrameChannel: one end of a connection that carries respct's framed messages
// (runtime/wire/message.h), whatever moves them: a stream socket (tcp://,
// shm://, FrameSocket) or verbs SEND/RECV (rdma://, VerbsChannel). The
// memnode's Session and the client's handshake and ClientSession speak
// through this interface only, so the protocol state machines exist once.
//
// A verbs channel also offers one-sided access (PeerMemory): memory this side
// exposes for the peer to RDMA WRITE/READ, and RDMA READs of what the peer
// exposed. Stream channels return nullptr from peer_memory().
//
// Not thread-safe, except Shutdown, which another thread may call to wake a
// thread blocked in WaitForMessage or Receive.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <unistd.h>
#include <vector>

#include "runtime/base/status.h"
#include "runtime/wire/message.h"

namespace respct {

// A received message. `fd` is a descriptor passed with it (SCM_RIGHTS, unix
// sockets only), or -1; the receiver owns it.
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

// A range of one side's memory the other side may access one-sidedly.
struct RemoteWindow {
  uint64_t addr = 0;
  uint64_t length = 0;
  uint32_t rkey = 0;
};

class PeerMemory {
 public:
  virtual ~PeerMemory() = default;
  // Registers [addr, addr+len) for the peer: RDMA READ, and RDMA WRITE when
  // `writable`. The window stays valid until Withdraw or the channel ends.
  virtual Result<RemoteWindow> Expose(void* addr, size_t len, bool writable) = 0;
  virtual void Withdraw(const RemoteWindow& w) = 0;
  // RDMA READs [src.addr+offset, +len) of a window the peer exposed into
  // `dst`, pipelined; returns when every byte has arrived.
  virtual Status Read(const RemoteWindow& src, uint64_t offset, void* dst, size_t len) = 0;
};

class FrameChannel {
 public:
  virtual ~FrameChannel() = default;

  // Sends header + `a` + `b` (either may be empty) as one message; with
  // `pass_fd` >= 0 the descriptor travels along (unix sockets only).
  virtual Status SendParts(wire::MsgType type, const void* a, size_t alen, const void* b, size_t blen,
                           int pass_fd) = 0;
  // Receives one message, waiting at most `timeout_ms` (< 0: forever) for
  // it. The peer leaving is kUnavailable; a malformed frame is Corruption.
  virtual Status Receive(Frame* out, int timeout_ms) = 0;
  // Blocks until a message starts to arrive, the peer leaves or Shutdown is
  // called (then the next Receive fails), or `timeout_ms` passes (< 0: no
  // bound): then kUnavailable with sys_errno() ETIMEDOUT, as every wait of a
  // channel that times out.
  virtual Status WaitForMessage(int timeout_ms) = 0;
  // Waits (bounded) until every message sent so far has reached the peer,
  // so that a Shutdown right after an Error does not lose the Error.
  virtual Status Flush(int timeout_ms) = 0;
  // Ends the conversation: the peer sees end of stream, a thread blocked in
  // this channel wakes up. Resources are released by the destructor.
  virtual void Shutdown() = 0;
  // Raw bytes as they would travel as one message (one SEND over verbs), for
  // tests that speak garbage to a memnode.
  virtual Status SendRaw(const void* data, size_t len) = 0;
  // One-sided access, or nullptr when the channel has none (streams).
  virtual PeerMemory* peer_memory() { return nullptr; }

  Status Send(wire::MsgType type, const void* a, size_t alen, const void* b = nullptr, size_t blen = 0,
              int pass_fd = -1) {
    return SendParts(type, a, alen, b, blen, pass_fd);
  }
  template <typename T>
  Status SendStruct(wire::MsgType type, const T& msg) {
    return SendParts(type, &msg, sizeof msg, nullptr, 0, -1);
  }
  // Sends an Error message carrying `st`'s code and message.
  Status SendError(const Status& st);
  // Receives a message that must be of type `want`; an Error message from the
  // peer is turned back into its Status, any other type is Corruption.
  Status Expect(wire::MsgType want, Frame* out, int timeout_ms);
};

// Turns an Error message's payload into the Status it carries.
Status StatusFromErrorFrame(const Frame& f);

}  // namespace respct
