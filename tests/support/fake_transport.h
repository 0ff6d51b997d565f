// FakeTransport: a connection to a FakeMemnode (fake_memnode.h), made by
// FakeMemnode::Connect. It holds no state of its own beyond what the attach
// returned and what a commit advances (info()), as a ClientSession does;
// every call is answered by the memnode it points to, so several connections
// made one after the other see one memnode.
#pragma once

#include <cstdint>
#include <memory>

#include "runtime/transport/transport.h"

namespace respct::testing {

class FakeMemnode;

class FakeTransport final : public Transport {
 public:
  FakeTransport(std::shared_ptr<FakeMemnode> memnode, uint64_t conn, const AttachInfo& info);
  ~FakeTransport() override;

  Status Append(uint64_t epoch, uint32_t region_id, uint64_t offset, const void* data, size_t len) override;
  Status Commit(uint64_t epoch) override;
  Status ReadImage(uint32_t region_id, uint64_t offset, void* dst, size_t len) override;
  Result<std::vector<wire::AppSummary>> ListApps() override;
  Result<EpochListing> ListEpochs(std::string_view app, uint64_t from, uint64_t to) override;
  Result<std::vector<wire::EpochWrites>> ListWrites(std::string_view app, uint64_t from, uint64_t to) override;

 private:
  const std::shared_ptr<FakeMemnode> memnode_;
  const uint64_t conn_;
};

}  // namespace respct::testing
