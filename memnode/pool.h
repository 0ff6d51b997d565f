// Pool: a respct-memnode pool file (layout: memnode/pool_layout.h) and the
// apps it holds. Opening a pool checks its superblock, loads every live app
// and, read-write, replays what was committed but not applied (§6), so the
// first client sees images exactly as of each app's last committed epoch.
//
// Thread-safe: app lookup and creation take the pool mutex; each App has its
// own mutex for everything else. Apps are never removed while the Pool lives,
// so an App* stays valid for the Pool's lifetime.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "memnode/app.h"
#include "memnode/pool_file.h"
#include "memnode/pool_layout.h"
#include "runtime/base/status.h"
#include "runtime/wire/message.h"

namespace respct::memnode {

class Pool {
 public:
  enum class OpenMode { kReadWrite, kReadOnly };

  // kReadWrite creates a sparse pool of `create_size` bytes (rounded up to
  // 2 MiB) when `path` does not exist, and locks it; kReadOnly (offline
  // inspection) never creates, locks or writes.
  static Result<std::unique_ptr<Pool>> Open(const std::string& path, uint64_t create_size, OpenMode mode);

  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  bool is_pmem() const { return file_->is_pmem(); }
  bool read_only() const { return file_->read_only(); }
  uint64_t size() const { return file_->size(); }
  const std::string& path() const { return file_->path(); }
  // "real PMem (DAX, MAP_SYNC, CPU flush)" or "regular file (msync)".
  std::string MappingDescription() const;

  struct AttachRequest {
    std::string name;
    std::vector<wire::RegionDesc> regions;  // empty: whatever is stored
    bool create = false;
    bool reset = false;                  // discard an existing app first (its writer must be gone)
    uint64_t ring_capacity = 0;          // wanted on creation; 0: default_ring
    uint64_t default_ring = 64ull << 20;
  };
  // §3: finds the app, checks the requested layout against the stored one,
  // or creates it (crash-atomically) when asked to.
  Result<App*> Attach(const AttachRequest& req);
  App* Find(std::string_view name) const;
  std::vector<wire::AppSummary> ListApps() const;
  // Every app's condition, in table order: why it is not served, or what
  // checking its whole image against its page checksums found (a scrub: it
  // reads every image byte).
  struct AppCheck {
    std::string name;
    Status status;
  };
  std::vector<AppCheck> Verify() const;

 private:
  explicit Pool(std::unique_ptr<PoolFile> file) : file_(std::move(file)) {}
  static Status Format(const std::string& path, uint64_t size);
  // The checked superblock, restored from its copy when it is damaged.
  Status LoadSuperblock(Superblock* out);
  Status Load();
  Result<App*> CreateLocked(const AttachRequest& req);
  // Frees `app`'s table entry (durably) and retires it; its extent becomes a
  // gap that a later creation reuses.
  Status RemoveLocked(App* app);
  // First gap of at least `bytes` (kAllocAlign-aligned) between live apps'
  // extents below the cursor, or 0.
  uint64_t FindGapLocked(uint64_t bytes) const;
  Superblock* superblock() const { return reinterpret_cast<Superblock*>(file_->base()); }
  AppEntry* entry(uint32_t i) const {
    return reinterpret_cast<AppEntry*>(file_->base() + kAppTableOffset + uint64_t{i} * kAppEntrySize);
  }

  std::unique_ptr<PoolFile> file_;
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<App>> apps_;  // live apps, table order
  // Reset apps: sessions may still point at them (every call fails).
  std::vector<std::unique_ptr<App>> retired_;
  uint64_t cursor_ = 0;                     // first free data-area byte
};

}  // namespace respct::memnode
