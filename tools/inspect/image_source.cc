#include "tools/inspect/image_source.h"

#include <cstring>

#include "memnode/pool.h"

namespace respct::inspect {
namespace {

class PoolSource final : public ImageSource {
 public:
  PoolSource(std::unique_ptr<memnode::Pool> pool, memnode::App* app) : pool_(std::move(pool)), app_ptr_(app) {}

  Result<EpochListing> Epochs(uint64_t from, uint64_t to) override {
    const memnode::AppPosition pos = app_ptr_->Position();
    EpochListing out;
    out.committed_epoch = pos.committed_epoch;
    out.applied_epoch = pos.applied_epoch;
    out.epochs = app_ptr_->EpochHistory(from, to);
    return out;
  }
  Result<std::vector<wire::EpochWrites>> Writes(uint64_t from, uint64_t to) override {
    return app_ptr_->WrittenRanges(from, to);
  }
  Status Read(uint32_t region_id, uint64_t offset, void* dst, size_t len) override {
    auto* out = static_cast<uint8_t*>(dst);
    return app_ptr_->ReadImage(region_id, offset, len, len, [&](const memnode::App::ImagePiece& p) {
      std::memcpy(out + (p.offset - offset), p.data, p.len);
      return Status::OK();
    });
  }

 private:
  std::unique_ptr<memnode::Pool> pool_;
  memnode::App* app_ptr_;
};

class MemnodeSource final : public ImageSource {
 public:
  MemnodeSource(std::unique_ptr<Transport> admin, std::unique_ptr<Transport> reader)
      : admin_(std::move(admin)), reader_(std::move(reader)) {}

  Result<EpochListing> Epochs(uint64_t from, uint64_t to) override { return admin_->ListEpochs(app_, from, to); }
  Result<std::vector<wire::EpochWrites>> Writes(uint64_t from, uint64_t to) override {
    return admin_->ListWrites(app_, from, to);
  }
  Status Read(uint32_t region_id, uint64_t offset, void* dst, size_t len) override {
    return reader_->ReadImage(region_id, offset, dst, len);
  }

 private:
  std::unique_ptr<Transport> admin_;
  std::unique_ptr<Transport> reader_;
};

}  // namespace

const RegionSpec* ImageSource::region(uint32_t id) const {
  for (const RegionSpec& r : regions_)
    if (r.id == id) return &r;
  return nullptr;
}

Result<std::unique_ptr<ImageSource>> ImageSource::OpenPool(const std::string& path, const std::string& app) {
  auto pool = memnode::Pool::Open(path, 0, memnode::Pool::OpenMode::kReadOnly);
  if (!pool.ok()) return pool.status().Annotate("pool " + path);
  memnode::App* a = (*pool)->Find(app);
  if (a == nullptr) return Status::NotFound("no app '" + app + "' in pool " + path);
  RESPCT_RETURN_IF_ERROR(a->health());
  auto src = std::make_unique<PoolSource>(std::move(pool).value(), a);
  src->source_ = "pool " + path;
  src->app_ = app;
  for (const memnode::RegionInfo& r : a->regions()) src->regions_.push_back(RegionSpec{r.id, r.size, r.base_addr});
  src->image_epoch_ = a->Position().applied_epoch;
  return std::unique_ptr<ImageSource>(std::move(src));
}

Result<std::unique_ptr<ImageSource>> ImageSource::ConnectMemnode(const std::string& url, const Secret& secret,
                                                                 const std::string& app) {
  ConnectOptions admin_opts;
  admin_opts.timeout_ms = 10000;
  auto admin = Transport::Connect(url, secret, admin_opts);
  if (!admin.ok()) return admin.status();
  auto apps = (*admin)->ListApps();
  if (!apps.ok()) return apps.status();
  bool found = false;
  for (const wire::AppSummary& a : *apps) found |= app == std::string_view(a.name, strnlen(a.name, sizeof a.name));
  if (!found) return Status::NotFound("no app '" + app + "' in memnode " + url);
  ConnectOptions reader_opts;
  reader_opts.app = app;
  reader_opts.timeout_ms = 30000;
  auto reader = Transport::Connect(url, secret, reader_opts);
  if (!reader.ok()) return reader.status();
  const AttachInfo info = (*reader)->info();
  auto src = std::make_unique<MemnodeSource>(std::move(admin).value(), std::move(reader).value());
  src->source_ = "memnode " + url;
  src->app_ = app;
  src->regions_ = info.regions;
  src->image_epoch_ = info.committed_epoch;
  return std::unique_ptr<ImageSource>(std::move(src));
}

}  // namespace respct::inspect
