#include "runtime/transport/verbs_channel.h"

#include <algorithm>
#include <cstring>

namespace respct {

Result<std::unique_ptr<VerbsChannel>> VerbsChannel::Connect(const std::string& host, uint16_t port, int timeout_ms) {
  auto conn = VerbsConnection::Dial(host, port, timeout_ms);
  if (!conn.ok()) return conn.status();
  std::unique_ptr<VerbsChannel> ch(new VerbsChannel(std::move(*conn)));
  RESPCT_RETURN_IF_ERROR(ch->Prepare());
  RESPCT_RETURN_IF_ERROR(ch->conn_->Establish(timeout_ms));
  return ch;
}

Result<std::unique_ptr<VerbsChannel>> VerbsChannel::Accept(int fd, int timeout_ms) {
  auto conn = VerbsConnection::ForAccepted(fd);
  if (!conn.ok()) return conn.status();
  std::unique_ptr<VerbsChannel> ch(new VerbsChannel(std::move(*conn)));
  RESPCT_RETURN_IF_ERROR(ch->Prepare());
  RESPCT_RETURN_IF_ERROR(ch->conn_->Establish(timeout_ms));
  return ch;
}

VerbsChannel::~VerbsChannel() {
  for (auto& [rkey, mr] : exposed_) ibv_dereg_mr(mr);
  if (read_mr_ != nullptr) ibv_dereg_mr(read_mr_);
  if (buffers_mr_ != nullptr) ibv_dereg_mr(buffers_mr_);
}

Status VerbsChannel::Prepare() {
  const size_t bytes = size_t{kRecvSlots + kSendSlots} * kMaxMessage;
  buffers_.reset(new uint8_t[bytes]);
  auto mr = conn_->Register(buffers_.get(), bytes, IBV_ACCESS_LOCAL_WRITE, "message buffers");
  if (!mr.ok()) return mr.status();
  buffers_mr_ = *mr;
  for (uint32_t i = 0; i < kRecvSlots; ++i)
    RESPCT_RETURN_IF_ERROR(conn_->PostRecv(i, RecvSlot(i), kMaxMessage, buffers_mr_->lkey));
  return Status::OK();
}

Status VerbsChannel::SendParts(wire::MsgType type, const void* a, size_t alen, const void* b, size_t blen,
                               int pass_fd) {
  if (pass_fd >= 0) return Status::InvalidArgument("descriptors cannot be passed over rdma://");
  const size_t total = sizeof(wire::FrameHeader) + alen + blen;
  if (total > kMaxMessage)
    return Status::InvalidArgument(std::string(wire::MsgTypeName(type)) + " message of " + std::to_string(total) +
                                   " bytes exceeds the rdma:// message size of " + std::to_string(kMaxMessage));
  const wire::FrameHeader h = wire::MakeFrameHeader(type, static_cast<uint32_t>(alen + blen));
  const void* parts[] = {&h, a, b};
  const size_t lens[] = {sizeof h, alen, blen};
  return SendMessage(parts, lens, 3);
}

Status VerbsChannel::SendRaw(const void* data, size_t len) {
  if (len > kMaxMessage) return Status::InvalidArgument("raw message larger than the rdma:// message size");
  return SendMessage(&data, &len, 1);
}

Status VerbsChannel::SendMessage(const void* const* parts, const size_t* lens, int count) {
  const uint32_t slot = next_send_;
  next_send_ = (next_send_ + 1) % kSendSlots;
  // The slot's previous SEND must have completed before its buffer is reused.
  RESPCT_RETURN_IF_ERROR(conn_->WaitUntil([&] { return send_done_[slot] == send_posted_[slot]; }, kSendTimeoutMs));
  uint8_t* buf = SendSlot(slot);
  size_t total = 0;
  for (int i = 0; i < count; ++i) {
    if (lens[i] != 0) std::memcpy(buf + total, parts[i], lens[i]);
    total += lens[i];
  }
  ibv_sge sge{reinterpret_cast<uint64_t>(buf), static_cast<uint32_t>(total), buffers_mr_->lkey};
  ibv_send_wr wr{};
  wr.opcode = IBV_WR_SEND;
  wr.sg_list = &sge;
  wr.num_sge = 1;
  wr.send_flags = IBV_SEND_SIGNALED | (total <= conn_->max_inline() ? IBV_SEND_INLINE : 0);
  ++send_posted_[slot];
  return conn_->PostSend(&wr, 1, "SEND", &send_done_[slot]);
}

Status VerbsChannel::Flush(int timeout_ms) {
  return conn_->WaitUntil(
      [&] {
        for (uint32_t i = 0; i < kSendSlots; ++i)
          if (send_done_[i] != send_posted_[i]) return false;
        return true;
      },
      timeout_ms);
}

Status VerbsChannel::WaitForMessage(int timeout_ms) {
  return conn_->WaitUntil([&] { return conn_->HasReceived(); }, timeout_ms);
}

Status VerbsChannel::Receive(Frame* out, int timeout_ms) {
  if (out->fd >= 0) close(out->fd);
  out->fd = -1;
  RESPCT_RETURN_IF_ERROR(conn_->WaitUntil([&] { return conn_->HasReceived(); }, timeout_ms));
  VerbsConnection::Received r{};
  conn_->PopReceived(&r);
  const uint8_t* buf = RecvSlot(r.slot);
  Status st;
  if (r.bytes < sizeof out->header) {
    st = Status::Corruption("rdma:// message of " + std::to_string(r.bytes) + " bytes is shorter than a frame header");
  } else {
    std::memcpy(&out->header, buf, sizeof out->header);
    st = wire::CheckFrameHeader(out->header);
    if (st.ok() && out->header.length != r.bytes - sizeof out->header)
      st = Status::Corruption("rdma:// message of " + std::to_string(r.bytes) + " bytes carries a frame of " +
                              std::to_string(out->header.length) + " payload bytes");
    if (st.ok()) out->payload.assign(buf + sizeof out->header, buf + r.bytes);
  }
  // The buffer is free again once copied out.
  RESPCT_RETURN_IF_ERROR(conn_->PostRecv(r.slot, RecvSlot(r.slot), kMaxMessage, buffers_mr_->lkey));
  return st;
}

Result<RemoteWindow> VerbsChannel::Expose(void* addr, size_t len, bool writable) {
  const int access = IBV_ACCESS_REMOTE_READ | (writable ? IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE : 0);
  auto mr = conn_->Register(addr, len, access, writable ? "a window for RDMA WRITE" : "a window for RDMA READ");
  if (!mr.ok()) return mr.status();
  exposed_[(*mr)->rkey] = *mr;
  return RemoteWindow{reinterpret_cast<uint64_t>(addr), len, (*mr)->rkey};
}

void VerbsChannel::Withdraw(const RemoteWindow& w) {
  auto it = exposed_.find(w.rkey);
  if (it == exposed_.end()) return;
  ibv_dereg_mr(it->second);
  exposed_.erase(it);
}

Status VerbsChannel::Read(const RemoteWindow& src, uint64_t offset, void* dst, size_t len) {
  if (offset > src.length || len > src.length - offset)
    return Status::InvalidArgument("RDMA READ outside the window the memnode granted");
  const uint32_t depth = std::min(conn_->read_depth(), kMaxReadDepth);
  if (read_mr_ == nullptr) {
    read_bounce_.reset(new uint8_t[size_t{depth} * kReadChunk]);
    auto mr = conn_->Register(read_bounce_.get(), size_t{depth} * kReadChunk, IBV_ACCESS_LOCAL_WRITE, "read buffer");
    if (!mr.ok()) return mr.status();
    read_mr_ = *mr;
  }
  // Chunk i goes to bounce slot i % depth; up to `depth` READs in flight,
  // consumed in order (RC completes them in order).
  const uint64_t chunks = (len + kReadChunk - 1) / kReadChunk;
  auto* out = static_cast<uint8_t*>(dst);
  uint64_t next_post = 0;
  for (uint64_t next_copy = 0; next_copy < chunks; ++next_copy) {
    while (next_post < chunks && next_post < next_copy + depth) {
      const uint32_t s = static_cast<uint32_t>(next_post % depth);
      const uint64_t off = next_post * kReadChunk;
      const uint32_t n = static_cast<uint32_t>(std::min<uint64_t>(kReadChunk, len - off));
      ibv_sge sge{reinterpret_cast<uint64_t>(read_bounce_.get() + uint64_t{s} * kReadChunk), n, read_mr_->lkey};
      ibv_send_wr wr{};
      wr.opcode = IBV_WR_RDMA_READ;
      wr.sg_list = &sge;
      wr.num_sge = 1;
      wr.send_flags = IBV_SEND_SIGNALED;
      wr.wr.rdma.remote_addr = src.addr + offset + off;
      wr.wr.rdma.rkey = src.rkey;
      ++read_posted_[s];
      RESPCT_RETURN_IF_ERROR(conn_->PostSend(&wr, 1, "READ", &read_done_[s]));
      ++next_post;
    }
    const uint32_t s = static_cast<uint32_t>(next_copy % depth);
    RESPCT_RETURN_IF_ERROR(conn_->WaitUntil([&] { return read_done_[s] == read_posted_[s]; }, kSendTimeoutMs));
    const uint64_t off = next_copy * kReadChunk;
    std::memcpy(out + off, read_bounce_.get() + uint64_t{s} * kReadChunk, std::min<uint64_t>(kReadChunk, len - off));
  }
  return Status::OK();
}

}  // namespace respct
