// VerbsChannel: the FrameChannel of an rdma:// connection. Each frame
// (header + payload, as on a stream) travels as one SEND into one of the
// receiver's pre-posted, registered receive buffers, so the session state
// machines of both sides run unchanged over verbs. Frames are bounded by
// kMaxMessage: the bulk bytes never travel as frames over verbs (records are
// RDMA-WRITTEN, image bytes RDMA-READ), so no verbs message needs more.
//
// It is also the connection's PeerMemory: windows of local memory registered
// for the peer in this connection's protection domain only (another
// connection's queue pair cannot use their rkeys), and pipelined RDMA READs
// of the peer's windows through a bounce buffer registered once.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "runtime/transport/frame_channel.h"
#include "runtime/transport/verbs_connection.h"

namespace respct {

class VerbsChannel final : public FrameChannel, public PeerMemory {
 public:
  static constexpr uint32_t kMaxMessage = 64 * 1024;

  // Client: connects to a memnode's rdma:// listener.
  static Result<std::unique_ptr<VerbsChannel>> Connect(const std::string& host, uint16_t port, int timeout_ms);
  // Server: sets up the connection whose bootstrap socket `fd` a listener accepted.
  static Result<std::unique_ptr<VerbsChannel>> Accept(int fd, int timeout_ms);
  ~VerbsChannel() override;

  Status SendParts(wire::MsgType type, const void* a, size_t alen, const void* b, size_t blen,
                   int pass_fd) override;
  Status Receive(Frame* out, int timeout_ms) override;
  Status WaitForMessage(int timeout_ms) override;
  Status Flush(int timeout_ms) override;
  void Shutdown() override { conn_->Disconnect(); }
  Status SendRaw(const void* data, size_t len) override;
  PeerMemory* peer_memory() override { return this; }

  Result<RemoteWindow> Expose(void* addr, size_t len, bool writable) override;
  void Withdraw(const RemoteWindow& w) override;
  Status Read(const RemoteWindow& src, uint64_t offset, void* dst, size_t len) override;

  VerbsConnection* connection() const { return conn_.get(); }

 private:
  static constexpr uint32_t kRecvSlots = 8;
  static constexpr uint32_t kSendSlots = 4;
  static constexpr uint32_t kReadChunk = 1u << 20;
  static constexpr int kSendTimeoutMs = 30000;

  explicit VerbsChannel(std::unique_ptr<VerbsConnection> conn) : conn_(std::move(conn)) {}
  // Registers the message buffers and posts every receive.
  Status Prepare();
  // Sends the concatenation of `parts` (at most kMaxMessage bytes) as one SEND.
  Status SendMessage(const void* const* parts, const size_t* lens, int count);
  uint8_t* RecvSlot(uint32_t i) const { return buffers_.get() + uint64_t{i} * kMaxMessage; }
  uint8_t* SendSlot(uint32_t i) const { return buffers_.get() + uint64_t{kRecvSlots + i} * kMaxMessage; }

  std::unique_ptr<VerbsConnection> conn_;
  std::unique_ptr<uint8_t[]> buffers_;  // kRecvSlots receive then kSendSlots send buffers
  ibv_mr* buffers_mr_ = nullptr;
  uint64_t send_posted_[kSendSlots] = {};
  uint64_t send_done_[kSendSlots] = {};
  uint32_t next_send_ = 0;
  std::map<uint32_t, ibv_mr*> exposed_;  // by rkey
  // Counters the connection updates on completion: members, so a READ still
  // in flight after an error never writes into a dead stack frame.
  static constexpr uint32_t kMaxReadDepth = 16;
  uint64_t read_posted_[kMaxReadDepth] = {};
  uint64_t read_done_[kMaxReadDepth] = {};
  std::unique_ptr<uint8_t[]> read_bounce_;  // read_depth chunks of kReadChunk, registered on first Read
  ibv_mr* read_mr_ = nullptr;
};

}  // namespace respct
