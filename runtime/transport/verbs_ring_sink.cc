#include "runtime/transport/verbs_ring_sink.h"

#include <algorithm>
#include <string>

#include "runtime/wire/record.h"

namespace respct {

Result<std::unique_ptr<VerbsRingSink>> VerbsRingSink::Create(VerbsConnection* conn, const RemoteWindow& ring,
                                                             uint64_t capacity, bool client_persists) {
  if (ring.length < capacity)
    return Status::Corruption("memnode granted a ring window of " + std::to_string(ring.length) +
                              " bytes for a ring of " + std::to_string(capacity));
  std::unique_ptr<VerbsRingSink> s(new VerbsRingSink(conn, ring, capacity, client_persists));
  const size_t bytes = kChunks * kChunkBytes + 8;
  s->staging_.reset(new uint8_t[bytes]);
  auto mr = conn->Register(s->staging_.get(), bytes, IBV_ACCESS_LOCAL_WRITE, "record staging buffer");
  if (!mr.ok()) return mr.status();
  s->mr_ = *mr;
  for (int i = 0; i < kChunks; ++i) s->chunks_[i].base = s->staging_.get() + i * kChunkBytes;
  return s;
}

VerbsRingSink::~VerbsRingSink() {
  if (mr_ != nullptr) ibv_dereg_mr(mr_);
}

Result<uint8_t*> VerbsRingSink::Reserve(uint64_t pos, uint64_t len) {
  static_assert(kChunkBytes >= wire::RecordFootprint(wire::kMaxRecordPayload));
  if (len > kChunkBytes)
    return Status::InvalidArgument("record of " + std::to_string(len) + " bytes exceeds the largest record");
  if (chunks_[cur_].used + len > kChunkBytes) RESPCT_RETURN_IF_ERROR(PostCurrent());
  Chunk& c = chunks_[cur_];
  if (c.used == 0) {
    // Reusing a chunk: its previous WRITEs must have left the buffer.
    RESPCT_RETURN_IF_ERROR(conn_->WaitUntil([&] { return c.done == c.posted; }, kWaitMs));
  }
  if (c.runs.empty() || c.runs.back().pos + c.runs.back().len != pos) c.runs.push_back(Run{pos, c.used, 0});
  c.runs.back().len += len;
  uint8_t* out = c.base + c.used;
  c.used += len;
  last_end_ = std::max(last_end_, pos + len);
  return out;
}

Status VerbsRingSink::PostCurrent() {
  Chunk& c = chunks_[cur_];
  std::vector<ibv_sge> sges;
  std::vector<ibv_send_wr> wrs;
  for (const Run& run : c.runs) {
    for (uint64_t done = 0; done < run.len;) {
      const uint64_t pos = run.pos + done;
      const uint64_t slot = pos % capacity_;
      const uint64_t n = std::min(run.len - done, capacity_ - slot);
      sges.push_back(ibv_sge{reinterpret_cast<uint64_t>(c.base + run.begin + done), static_cast<uint32_t>(n), mr_->lkey});
      ibv_send_wr wr{};
      wr.opcode = IBV_WR_RDMA_WRITE;
      wr.num_sge = 1;
      wr.send_flags = n <= conn_->max_inline() ? IBV_SEND_INLINE : 0;
      wr.wr.rdma.remote_addr = ring_.addr + slot;
      wr.wr.rdma.rkey = ring_.rkey;
      wrs.push_back(wr);
      done += n;
    }
  }
  for (size_t i = 0; i < wrs.size(); ++i) wrs[i].sg_list = &sges[i];
  for (size_t first = 0; first < wrs.size(); first += kSignalEvery) {
    const size_t last = std::min(wrs.size(), first + kSignalEvery) - 1;
    for (size_t i = first; i < last; ++i) wrs[i].next = &wrs[i + 1];
    wrs[last].next = nullptr;
    wrs[last].send_flags |= IBV_SEND_SIGNALED;
    ++c.posted;
    RESPCT_RETURN_IF_ERROR(conn_->PostSend(&wrs[first], static_cast<uint32_t>(last - first + 1), "WRITE", &c.done));
  }
  c.runs.clear();
  if (c.used != 0) {
    // The posted chunk stays untouched until its WRITEs complete; the next
    // one waits for its own previous WRITEs on its first Reserve.
    cur_ = (cur_ + 1) % kChunks;
    chunks_[cur_].used = 0;
  }
  return Status::OK();
}

Status VerbsRingSink::ReadBack(uint64_t end) {
  const uint64_t slot = (end - 8) % capacity_;
  ibv_sge sge{reinterpret_cast<uint64_t>(staging_.get() + kChunks * kChunkBytes), 8, mr_->lkey};
  ibv_send_wr wr{};
  wr.opcode = IBV_WR_RDMA_READ;
  wr.sg_list = &sge;
  wr.num_sge = 1;
  wr.send_flags = IBV_SEND_SIGNALED;
  wr.wr.rdma.remote_addr = ring_.addr + slot;
  wr.wr.rdma.rkey = ring_.rkey;
  ++read_posted_;
  RESPCT_RETURN_IF_ERROR(conn_->PostSend(&wr, 1, "READ", &read_done_));
  return conn_->WaitUntil([&] { return read_done_ == read_posted_; }, kWaitMs);
}

Status VerbsRingSink::Flush() {
  const bool wrote = !chunks_[cur_].runs.empty();
  RESPCT_RETURN_IF_ERROR(PostCurrent());
  if (client_persists_ && wrote) RESPCT_RETURN_IF_ERROR(ReadBack(last_end_));
  return conn_->broken();
}

}  // namespace respct
