#include "tests/support/fake_transport.h"

#include "tests/support/fake_memnode.h"

namespace respct::testing {

FakeTransport::FakeTransport(std::shared_ptr<FakeMemnode> memnode, uint64_t conn, const AttachInfo& info)
    : memnode_(std::move(memnode)), conn_(conn) {
  info_ = info;
}

FakeTransport::~FakeTransport() { memnode_->Close(conn_); }

Status FakeTransport::Append(uint64_t epoch, uint32_t region_id, uint64_t offset, const void* data, size_t len) {
  Status st = memnode_->Append(conn_, epoch, region_id, offset, data, len);
  if (st.ok()) {
    ++stats_.records;
    stats_.payload_bytes += len;
  }
  return st;
}

Status FakeTransport::Commit(uint64_t epoch) {
  RESPCT_RETURN_IF_ERROR(memnode_->Commit(conn_, epoch));
  info_.committed_epoch = epoch;
  info_.applied_epoch = epoch;  // the fake applies at commit
  ++stats_.commits;
  return Status::OK();
}

Status FakeTransport::ReadImage(uint32_t region_id, uint64_t offset, void* dst, size_t len) {
  return memnode_->ReadImage(conn_, region_id, offset, dst, len);
}

Result<std::vector<wire::AppSummary>> FakeTransport::ListApps() { return memnode_->ListApps(conn_); }

Result<EpochListing> FakeTransport::ListEpochs(std::string_view app, uint64_t from, uint64_t to) {
  return memnode_->ListEpochs(conn_, app, from, to);
}

Result<std::vector<wire::EpochWrites>> FakeTransport::ListWrites(std::string_view app, uint64_t from, uint64_t to) {
  return memnode_->ListWrites(conn_, app, from, to);
}

}  // namespace respct::testing
