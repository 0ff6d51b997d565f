#include "runtime/transport/client_session.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "runtime/wire/image_sums.h"

namespace respct {

ClientSession::ClientSession(std::string url, std::unique_ptr<FrameChannel> sock, const AttachReply* attach,
                             std::unique_ptr<RingSink> sink, int timeout_ms)
    : url_(std::move(url)),
      sock_(std::move(sock)),
      sink_(std::move(sink)),
      admin_(attach == nullptr),
      timeout_ms_(timeout_ms) {
  if (attach == nullptr) return;
  const wire::AttachOkMsg& ok = attach->ok;
  info_.app_id = ok.app_id;
  info_.committed_epoch = ok.committed_epoch;
  info_.applied_epoch = ok.applied_epoch;
  info_.ring_capacity = ok.ring_capacity;
  for (const wire::RegionDesc& r : attach->regions) info_.regions.push_back(RegionSpec{r.id, r.size, r.base_addr});
  if (sink_ != nullptr)
    writer_ = std::make_unique<EpochWriter>(sink_.get(), &stats_, ok.ring_capacity, ok.ring_tail, ok.ring_applied,
                                            ok.committed_epoch);
}

Status ClientSession::CheckUsable() const {
  if (!broken_.ok())
    return Status::Unavailable("connection to memnode at " + url_ + " is closed after an earlier error (" +
                               broken_.message() + "): reconnect");
  return Status::OK();
}

Status ClientSession::CheckWriter() const {
  RESPCT_RETURN_IF_ERROR(CheckUsable());
  if (writer_ == nullptr)
    return Status::FailedPrecondition(admin_ ? "an admin session can only list apps and epochs"
                                             : "this session is attached as a reader: it cannot commit");
  return Status::OK();
}

Status ClientSession::Broken(const Status& st) {
  Status named = st.from_peer() ? st : st.Annotate("memnode at " + url_);
  broken_ = named;
  return named;
}

Status ClientSession::WriterFailure(const Status& st) {
  // A sink that could not send lost bytes the memnode needed: the epoch can
  // never commit on this connection. Refusals (wrong epoch, epoch too large)
  // leave the session usable.
  if ((st.IsUnavailable() || st.code() == Status::Code::kIOError) && broken_.ok()) return Broken(st);
  return st;
}

Status ClientSession::OnProgress(const Frame& f) {
  const auto p = f.As<wire::RingProgressMsg>();
  if (p.applied_epoch > info_.applied_epoch) info_.applied_epoch = p.applied_epoch;
  if (writer_ != nullptr) writer_->SetApplied(p.ring_applied);
  return Status::OK();
}

Status ClientSession::ReceiveReply(wire::MsgType want, Frame* out) {
  for (;;) {
    RESPCT_RETURN_IF_ERROR(sock_->Receive(out, timeout_ms_));
    if (out->type() == want) return Status::OK();
    if (out->type() == wire::MsgType::kRingProgress) {
      RESPCT_RETURN_IF_ERROR(OnProgress(*out));
      continue;
    }
    if (out->type() == wire::MsgType::kError) return StatusFromErrorFrame(*out);
    return Status::Corruption(std::string("expected ") + wire::MsgTypeName(want) + ", got " +
                              wire::MsgTypeName(out->type()));
  }
}

Status ClientSession::WaitForProgress() {
  Frame f;
  Status st = ReceiveReply(wire::MsgType::kRingProgress, &f);
  if (st.ok()) st = OnProgress(f);
  if (!st.ok()) return Broken(st.Annotate("waiting for ring space"));
  return Status::OK();
}

Status ClientSession::CheckRegion(uint32_t region_id, uint64_t offset, uint64_t len) const {
  for (const RegionSpec& r : info_.regions) {
    if (r.id != region_id) continue;
    if (offset > r.size || len > r.size - offset)
      return Status::InvalidArgument("range [" + std::to_string(offset) + ", +" + std::to_string(len) +
                                     ") lies outside region " + std::to_string(region_id) + " of " +
                                     std::to_string(r.size) + " bytes");
    return Status::OK();
  }
  return Status::InvalidArgument("no region " + std::to_string(region_id) + " in this app");
}

Status ClientSession::Append(uint64_t epoch, uint32_t region_id, uint64_t offset, const void* data, size_t len) {
  RESPCT_RETURN_IF_ERROR(CheckWriter());
  RESPCT_RETURN_IF_ERROR(CheckRegion(region_id, offset, len));
  if (len == 0) return Status::OK();
  return WriterFailure(writer_->Append(epoch, region_id, offset, data, len, [this] { return WaitForProgress(); }));
}

Status ClientSession::Commit(uint64_t epoch) {
  RESPCT_RETURN_IF_ERROR(CheckWriter());
  auto msg = writer_->PrepareCommit(epoch, [this] { return WaitForProgress(); });
  if (!msg.ok()) return WriterFailure(msg.status());
  if (Status st = sock_->SendStruct(wire::MsgType::kCommit, *msg); !st.ok()) return Broken(st);
  Frame f;
  Status st = ReceiveReply(wire::MsgType::kCommitAck, &f);
  if (!st.ok()) return Broken(st.Annotate("commit of epoch " + std::to_string(epoch)));
  st = writer_->Committed(f.As<wire::CommitAckMsg>());
  if (!st.ok()) return Broken(st);
  info_.committed_epoch = writer_->committed_epoch();
  return Status::OK();
}

Status ClientSession::ReadImage(uint32_t region_id, uint64_t offset, void* dst, size_t len) {
  RESPCT_RETURN_IF_ERROR(CheckUsable());
  if (admin_) return Status::FailedPrecondition("an admin session can only list apps and epochs");
  RESPCT_RETURN_IF_ERROR(CheckRegion(region_id, offset, len));
  if (len == 0) return Status::OK();
  uint64_t region_size = 0;
  for (const RegionSpec& r : info_.regions)
    if (r.id == region_id) region_size = r.size;
  const wire::ReadImageMsg req{region_id, 0, offset, len};
  if (Status st = sock_->SendStruct(wire::MsgType::kReadImage, req); !st.ok()) return Broken(st);
  // Over rdma:// the memnode grants windows of the image to RDMA-READ;
  // otherwise the bytes come in ImageData frames. Either way the checksums
  // of the piece's whole pages come first.
  PeerMemory* remote = sock_->peer_memory();
  const wire::MsgType piece_type = remote != nullptr ? wire::MsgType::kImageGrant : wire::MsgType::kImageData;
  auto* out = static_cast<uint8_t*>(dst);
  uint64_t got = 0;
  while (got < len) {
    Frame sums;
    Status st = ReceiveReply(wire::MsgType::kImageSums, &sums);
    // The memnode refuses a bad request (or a damaged image) with an Error and keeps serving; anything else ends
    // the session.
    if (!st.ok()) return sums.type() == wire::MsgType::kError && got == 0 ? st : Broken(st);
    Frame f;
    if (st = ReceiveReply(piece_type, &f); !st.ok()) return Broken(st);
    uint64_t piece_offset = 0;
    uint64_t n = 0;
    if (remote != nullptr) {
      const auto grant = f.As<wire::ImageGrantMsg>();
      piece_offset = grant.offset;
      n = grant.length;
    } else {
      piece_offset = f.As<wire::ImageDataMsg>().offset;
      n = f.payload.size() - sizeof(wire::ImageDataMsg);
    }
    if (piece_offset != offset + got || n > len - got || n == 0)
      return Broken(Status::Corruption(std::string(wire::MsgTypeName(piece_type)) + " at offset " +
                                       std::to_string(piece_offset) + " of " + std::to_string(n) +
                                       " bytes, expected offset " + std::to_string(offset + got)));
    const wire::PageSpan whole = wire::WholePages(piece_offset, n, region_size);
    const auto sums_head = sums.As<wire::ImageSumsMsg>();
    if (sums_head.first_page != whole.first || sums_head.count != whole.count() ||
        sums.payload.size() != sizeof(wire::ImageSumsMsg) + whole.count() * sizeof(uint64_t))
      return Broken(Status::Corruption("ImageSums for pages [" + std::to_string(sums_head.first_page) + ", +" +
                                       std::to_string(sums_head.count) + ") before a piece whose whole pages are [" +
                                       std::to_string(whole.first) + ", +" + std::to_string(whole.count()) + ")"));
    if (remote != nullptr) {
      const auto grant = f.As<wire::ImageGrantMsg>();
      st = remote->Read(RemoteWindow{grant.addr, grant.length, grant.rkey}, 0, out + got, n);
      if (st.ok()) st = sock_->SendStruct(wire::MsgType::kImageReadDone, wire::ImageReadDoneMsg{grant.offset});
      if (!st.ok()) return Broken(st.Annotate("reading the image"));
    } else {
      std::memcpy(out + got, f.payload.data() + sizeof(wire::ImageDataMsg), n);
    }
    // Checked where the bytes now are: what the memnode checked at its end
    // and what arrived must be the same.
    const uint8_t* stored = sums.payload.data() + sizeof(wire::ImageSumsMsg);
    for (uint64_t p = whole.first; p < whole.end; ++p) {
      const uint64_t at = p * wire::kImageSumPage;
      const uint64_t page_len = std::min<uint64_t>(wire::kImageSumPage, region_size - at);
      uint64_t want = 0;
      std::memcpy(&want, stored + (p - whole.first) * sizeof want, sizeof want);
      if (wire::ImagePageSum(out + (at - offset), page_len) != want)
        return Broken(Status::Corruption("image page at region " + std::to_string(region_id) + ", offset " +
                                         std::to_string(at) + " fails its checksum after the transfer"));
    }
    got += n;
  }
  return Status::OK();
}

Result<std::vector<wire::AppSummary>> ClientSession::ListApps() {
  RESPCT_RETURN_IF_ERROR(CheckUsable());
  if (Status st = sock_->Send(wire::MsgType::kListApps, nullptr, 0); !st.ok()) return Broken(st);
  Frame f;
  if (Status st = ReceiveReply(wire::MsgType::kAppList, &f); !st.ok()) return Broken(st);
  uint32_t count = 0;
  std::memcpy(&count, f.payload.data(), sizeof count);
  if (f.payload.size() != sizeof count + uint64_t{count} * sizeof(wire::AppSummary))
    return Broken(Status::Corruption("AppList length does not match its count"));
  std::vector<wire::AppSummary> apps(count);
  if (count != 0) std::memcpy(apps.data(), f.payload.data() + sizeof count, count * sizeof(wire::AppSummary));
  for (wire::AppSummary& a : apps) a.name[sizeof a.name - 1] = '\0';
  return apps;
}

Status ClientSession::SendEpochQuery(wire::MsgType type, std::string_view app, uint64_t from, uint64_t to) {
  RESPCT_RETURN_IF_ERROR(CheckUsable());
  wire::EpochQueryMsg q{};
  if (app.size() > wire::kAppNameMax) return Status::InvalidArgument("app name too long");
  std::memcpy(q.app, app.data(), app.size());
  q.from_epoch = from;
  q.to_epoch = to;
  RESPCT_RETURN_IF_ERROR(wire::CheckEpochQuery(q));
  if (Status st = sock_->SendStruct(type, q); !st.ok()) return Broken(st);
  return Status::OK();
}

Status ClientSession::ReceiveQueryReply(wire::MsgType want, Frame* f) {
  Status st = ReceiveReply(want, f);
  if (st.ok() || f->type() == wire::MsgType::kError) return st;
  return Broken(st);
}

Result<EpochListing> ClientSession::ListEpochs(std::string_view app, uint64_t from, uint64_t to) {
  RESPCT_RETURN_IF_ERROR(SendEpochQuery(wire::MsgType::kListEpochs, app, from, to));
  Frame f;
  RESPCT_RETURN_IF_ERROR(ReceiveQueryReply(wire::MsgType::kEpochList, &f));
  const auto head = f.As<wire::EpochListMsg>();
  if (f.payload.size() != sizeof head + uint64_t{head.count} * sizeof(wire::EpochInfo))
    return Broken(Status::Corruption("EpochList length does not match its count"));
  EpochListing out;
  out.committed_epoch = head.committed_epoch;
  out.applied_epoch = head.applied_epoch;
  out.epochs.resize(head.count);
  if (head.count != 0)
    std::memcpy(out.epochs.data(), f.payload.data() + sizeof head, head.count * sizeof(wire::EpochInfo));
  return out;
}

Result<std::vector<wire::EpochWrites>> ClientSession::ListWrites(std::string_view app, uint64_t from, uint64_t to) {
  RESPCT_RETURN_IF_ERROR(SendEpochQuery(wire::MsgType::kListWrites, app, from, to));
  std::vector<wire::EpochWrites> out;
  for (;;) {
    Frame f;
    // Only the first frame may be a refusal; an Error in the middle of the
    // reply leaves the conversation in an unknown state.
    Status st = ReceiveReply(wire::MsgType::kWriteList, &f);
    if (!st.ok()) return out.empty() && f.type() == wire::MsgType::kError ? st : Broken(st);
    const auto head = f.As<wire::WriteListMsg>();
    if (f.payload.size() != sizeof head + uint64_t{head.count} * sizeof(wire::WrittenRange))
      return Broken(Status::Corruption("WriteList length does not match its count"));
    if (head.epoch <= from || head.epoch > to || (!out.empty() && head.epoch < out.back().epoch))
      return Broken(Status::Corruption("WriteList for epoch " + std::to_string(head.epoch) + " out of order"));
    if (out.empty() || out.back().epoch != head.epoch) {
      out.emplace_back();
      out.back().epoch = head.epoch;
      out.back().status = static_cast<wire::WritesStatus>(head.status);
    }
    const size_t had = out.back().ranges.size();
    out.back().ranges.resize(had + head.count);
    if (head.count != 0)
      std::memcpy(out.back().ranges.data() + had, f.payload.data() + sizeof head,
                  head.count * sizeof(wire::WrittenRange));
    if ((head.flags & wire::kWriteListLast) != 0) return out;
  }
}

}  // namespace respct
