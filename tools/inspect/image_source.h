// ImageSource: where respct-inspect reads one app from — a running memnode
// (live) or a pool file (offline) — behind one interface, so every report
// (epochs, threads, diff, extract) works the same on both.
//
// Live, metadata (epoch history, written ranges) comes over an admin session
// and image bytes over a reader session of the app; both need the memnode's
// shared secret. Offline, the pool is opened read-only without its lock.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "runtime/base/status.h"
#include "runtime/transport/secret.h"
#include "runtime/transport/transport.h"
#include "runtime/wire/message.h"

namespace respct::inspect {

class ImageSource {
 public:
  virtual ~ImageSource() = default;

  static Result<std::unique_ptr<ImageSource>> OpenPool(const std::string& path, const std::string& app);
  static Result<std::unique_ptr<ImageSource>> ConnectMemnode(const std::string& url, const Secret& secret,
                                                             const std::string& app);

  // "memnode URL" or "pool FILE", for messages.
  const std::string& source() const { return source_; }
  const std::string& app() const { return app_; }
  // The app's regions (id, size, base address).
  const std::vector<RegionSpec>& regions() const { return regions_; }
  const RegionSpec* region(uint32_t id) const;
  // The epoch the image holds: the committed epoch live (the memnode applies
  // before it serves bytes), the applied epoch offline (a read-only pool
  // cannot apply).
  uint64_t image_epoch() const { return image_epoch_; }

  virtual Result<EpochListing> Epochs(uint64_t from, uint64_t to) = 0;
  virtual Result<std::vector<wire::EpochWrites>> Writes(uint64_t from, uint64_t to) = 0;
  // Image bytes of a region.
  virtual Status Read(uint32_t region_id, uint64_t offset, void* dst, size_t len) = 0;

 protected:
  ImageSource() = default;
  std::string source_;
  std::string app_;
  std::vector<RegionSpec> regions_;
  uint64_t image_epoch_ = 0;
};

}  // namespace respct::inspect
