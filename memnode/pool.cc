#include "memnode/pool.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>

#include <spdlog/spdlog.h>

#include "runtime/base/clock.h"
#include "runtime/base/make_dirs.h"
#include "runtime/wire/checksum.h"
#include "runtime/wire/record.h"

namespace respct::memnode {
namespace {

using wire::AlignUp;

// Region sizes and ring capacities beyond this are refused before any
// arithmetic on them could overflow.
constexpr uint64_t kMaxAllocation = 1ull << 48;

std::string DirOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

std::string Layout(const std::vector<RegionInfo>& regions) {
  std::string s = "{";
  for (size_t i = 0; i < regions.size(); ++i)
    s += (i ? ", " : "") + std::to_string(regions[i].id) + ": " + std::to_string(regions[i].size) + " B";
  return s + "}";
}

std::string Layout(const std::vector<wire::RegionDesc>& regions) {
  std::vector<RegionInfo> r;
  for (const auto& d : regions) r.push_back(RegionInfo{d.id, d.size, d.base_addr, 0});
  return Layout(r);
}

}  // namespace

Status Pool::Format(const std::string& path, uint64_t size) {
  if (size < kMinPoolSize)
    return Status::InvalidArgument("pool size " + std::to_string(size) + " is too small (minimum " +
                                   std::to_string(kMinPoolSize >> 20) + " MiB)");
  size = AlignUp(size, kAllocAlign);
  RESPCT_RETURN_IF_ERROR(MakeParentDirs(path));
  // Formatted under a temporary name and linked into place, so no crash ever
  // leaves a half-formatted file at `path`.
  const std::string tmp = path + ".tmp." + std::to_string(getpid());
  unlink(tmp.c_str());
  RESPCT_RETURN_IF_ERROR(PoolFile::CreateSparse(tmp, size));
  Status s = [&]() -> Status {
    auto file = PoolFile::Map(tmp, false);
    if (!file.ok()) return file.status();
    Superblock sb{};
    std::memcpy(sb.magic, kPoolMagic, sizeof sb.magic);
    sb.version = kPoolVersion;
    sb.superblock_size = kSuperblockSize;
    sb.pool_size = size;
    sb.app_table_offset = kAppTableOffset;
    sb.app_table_entries = kAppTableEntries;
    sb.app_entry_size = kAppEntrySize;
    sb.data_offset = kDataOffset;
    sb.created_unix_ns = UnixNs();
    sb.checksum = SuperblockChecksum(sb);
    sb.data_cursor = kDataOffset;
    for (uint64_t at : {uint64_t{0}, kSuperblockCopyOffset}) {
      std::memcpy((*file)->base() + at, &sb, sizeof sb);
      (*file)->Persist((*file)->base() + at, sizeof sb);
    }
    return (*file)->Sync();
  }();
  if (s.ok() && link(tmp.c_str(), path.c_str()) != 0 && errno != EEXIST) s = Status::FromErrno("link " + path, errno);
  unlink(tmp.c_str());
  if (!s.ok()) return s;
  const int dfd = open(DirOf(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    fsync(dfd);
    close(dfd);
  }
  spdlog::info("created pool {} ({} MiB, sparse)", path, size >> 20);
  return Status::OK();
}

Result<std::unique_ptr<Pool>> Pool::Open(const std::string& path, uint64_t create_size, OpenMode mode) {
  const bool read_only = mode == OpenMode::kReadOnly;
  if (!read_only && access(path.c_str(), F_OK) != 0) {
    if (errno != ENOENT) return Status::FromErrno("pool " + path, errno);
    RESPCT_RETURN_IF_ERROR(Format(path, create_size));
  }
  auto file = PoolFile::Map(path, read_only);
  if (!file.ok()) return file.status();
  std::unique_ptr<Pool> pool(new Pool(std::move(file).value()));
  RESPCT_RETURN_IF_ERROR(pool->Load());
  return pool;
}

std::string Pool::MappingDescription() const {
  return is_pmem() ? "real PMem (DAX, MAP_SYNC, CPU flush)" : "regular file (msync)";
}

Status Pool::LoadSuperblock(Superblock* out) {
  const std::string& p = path();
  auto check_kind = [&](const Superblock& sb) -> Status {
    if (std::memcmp(sb.magic, kPoolMagic, sizeof sb.magic) != 0)
      return Status::Corruption(p + " is not a respct pool (bad magic)");
    if (sb.version != kPoolVersion)
      return Status::FailedPrecondition("pool " + p + " has layout version " + std::to_string(sb.version) +
                                        "; this memnode reads version " + std::to_string(kPoolVersion));
    return Status::OK();
  };
  std::memcpy(out, file_->base(), sizeof *out);
  if (out->checksum == SuperblockChecksum(*out)) return check_kind(*out);

  Superblock copy{};
  const bool have_copy = file_->size() >= kSuperblockCopyOffset + kSuperblockSize;
  if (have_copy) std::memcpy(&copy, file_->base() + kSuperblockCopyOffset, sizeof copy);
  if (!have_copy || copy.checksum != SuperblockChecksum(copy)) {
    RESPCT_RETURN_IF_ERROR(check_kind(*out));  // a foreign file, or an older layout without a copy
    return Status::Corruption("pool " + p + ": the superblock and its copy at 1 MiB both fail their checksums");
  }
  RESPCT_RETURN_IF_ERROR(check_kind(copy));
  // The copy's data cursor is as old as the format: only a hint, which Load
  // raises to the end of every live app's extent anyway.
  if (read_only()) {
    spdlog::warn("pool {}: the superblock fails its checksum (damaged media?); read through its copy at 1 MiB", p);
  } else {
    std::memcpy(file_->base(), &copy, sizeof copy);
    file_->Persist(file_->base(), sizeof copy);
    spdlog::warn("pool {}: the superblock failed its checksum (damaged media?); restored from its copy at 1 MiB", p);
  }
  *out = copy;
  return Status::OK();
}

Status Pool::Load() {
  const std::string& p = path();
  Superblock sb;
  RESPCT_RETURN_IF_ERROR(LoadSuperblock(&sb));
  if (sb.superblock_size != kSuperblockSize || sb.app_table_offset != kAppTableOffset ||
      sb.app_table_entries != kAppTableEntries || sb.app_entry_size != kAppEntrySize || sb.data_offset != kDataOffset)
    return Status::Corruption("pool " + p + ": superblock describes an unknown layout");
  if (sb.pool_size < kMinPoolSize)
    return Status::Corruption("pool " + p + " is too small (" + std::to_string(sb.pool_size) + " bytes)");
  if (sb.pool_size > file_->size())
    return Status::Corruption("pool " + p + " is truncated: " + std::to_string(file_->size()) + " of " +
                              std::to_string(sb.pool_size) + " bytes");

  cursor_ = std::max(sb.data_cursor, kDataOffset);
  for (uint32_t i = 0; i < kAppTableEntries; ++i) {
    AppEntry* e = entry(i);
    if (e->state == kAppFree) continue;
    // A live entry, or a damaged state word that App::Load reports.
    auto app = App::Load(file_.get(), e);
    cursor_ = std::max(cursor_, app->alloc_end());
    if (!app->health().ok()) spdlog::error("{}; the app is not served", app->health().message());
    apps_.push_back(std::move(app));
  }
  cursor_ = std::min(cursor_, sb.pool_size);
  for (auto& app : apps_) {
    if (!app->health().ok()) continue;
    const ReplayScan& scan = app->replay_scan();
    if (!read_only()) {
      RESPCT_RETURN_IF_ERROR(app->ApplyCommitted(nullptr).Annotate("replay app '" + app->name() + "'"));
      if (!scan.committed.empty())
        spdlog::info("app '{}': replayed {} committed epoch(s) {}..{}", app->name(), scan.committed.size(),
                     scan.committed.front().epoch, scan.committed.back().epoch);
    }
    if (scan.discarded_records != 0)
      spdlog::info("app '{}': discarded {} record(s) of uncommitted epoch {} ({})", app->name(),
                   scan.discarded_records, app->Position().committed_epoch + 1, scan.stop_reason);
    spdlog::debug("app '{}': ring scan ended at {}: {}", app->name(), scan.tail, scan.stop_reason);
  }
  return Status::OK();
}

App* Pool::Find(std::string_view name) const {
  std::lock_guard<std::mutex> l(mu_);
  for (const auto& app : apps_)
    if (app->name() == name) return app.get();
  return nullptr;
}

Result<App*> Pool::Attach(const AttachRequest& req) {
  std::lock_guard<std::mutex> l(mu_);
  App* app = nullptr;
  for (const auto& a : apps_)
    if (a->name() == req.name) app = a.get();
  if (app != nullptr && req.reset) {
    RESPCT_RETURN_IF_ERROR(RemoveLocked(app));
    spdlog::info("app '{}' reset: image and epochs discarded", req.name);
    return CreateLocked(req);
  }
  if (app == nullptr) {
    if (!req.create) {
      // A flip in a damaged entry's name hides which app it was: say so.
      size_t damaged = 0;
      for (const auto& a : apps_) damaged += a->health().IsCorruption() ? 1 : 0;
      std::string why = "no app '" + req.name + "' in the pool";
      if (damaged != 0)
        why += " (" + std::to_string(damaged) +
               " damaged app table entr" + (damaged == 1 ? "y is" : "ies are") +
               " not served, and may be this app's: see the memnode's log)";
      return Status::NotFound(why);
    }
    return CreateLocked(req);
  }
  RESPCT_RETURN_IF_ERROR(app->health());
  if (req.regions.empty()) return app;
  bool same = req.regions.size() == app->regions().size();
  for (size_t i = 0; same && i < req.regions.size(); ++i)
    same = req.regions[i].id == app->regions()[i].id && req.regions[i].size == app->regions()[i].size;
  if (!same)
    return Status::FailedPrecondition("app '" + req.name + "' exists with a different region layout: stored " +
                                      Layout(app->regions()) + ", requested " + Layout(req.regions));
  return app;
}

Result<App*> Pool::CreateLocked(const AttachRequest& req) {
  RESPCT_RETURN_IF_ERROR(wire::ValidateAppName(req.name));
  if (read_only()) return Status::FailedPrecondition("pool " + path() + " is open read-only");
  if (req.regions.empty())
    return Status::InvalidArgument("creating app '" + req.name + "' needs at least one region");
  if (req.regions.size() > wire::kMaxRegions)
    return Status::InvalidArgument("app '" + req.name + "': more than " + std::to_string(wire::kMaxRegions) +
                                   " regions");
  std::set<uint32_t> ids;
  uint64_t image_size = 0;
  for (const auto& r : req.regions) {
    if (!ids.insert(r.id).second)
      return Status::InvalidArgument("app '" + req.name + "': region id " + std::to_string(r.id) + " appears twice");
    if (r.size == 0 || r.size > kMaxAllocation)
      return Status::InvalidArgument("app '" + req.name + "': region " + std::to_string(r.id) + " has a bad size " +
                                     std::to_string(r.size));
    image_size += AlignUp(r.size, kPageSize);
  }
  uint64_t ring = req.ring_capacity != 0 ? req.ring_capacity : req.default_ring;
  if (ring > kMaxAllocation)
    return Status::InvalidArgument("ring capacity " + std::to_string(ring) + " is too large");
  ring = std::max(AlignUp(ring, wire::kRecordAlign), wire::kMinRingCapacity);

  uint32_t slot = kAppTableEntries;
  for (uint32_t i = 0; i < kAppTableEntries && slot == kAppTableEntries; ++i)
    if (entry(i)->state == kAppFree) slot = i;
  if (slot == kAppTableEntries)
    return Status::ResourceExhausted("pool " + path() + " holds the maximum of " + std::to_string(kAppTableEntries) +
                                     " apps");
  const uint64_t pool_size = superblock()->pool_size;
  constexpr uint64_t kHistoryBytes = uint64_t{kEpochHistoryEntries} * sizeof(EpochHistoryEntry);
  const uint64_t sums_bytes = AlignUp(PageSumTableBytes(image_size), kPageSize);
  // Image, then the ring at the next 2 MiB, then the history at the next 4 KiB,
  // then the page checksums.
  const uint64_t extent = AlignUp(image_size, kAllocAlign) + AlignUp(ring, kPageSize) + kHistoryBytes + sums_bytes;
  const uint64_t gap = FindGapLocked(extent);
  const uint64_t image_off = gap != 0 ? gap : AlignUp(cursor_, kAllocAlign);
  const uint64_t ring_off = AlignUp(image_off + image_size, kAllocAlign);
  const uint64_t history_off = AlignUp(ring_off + ring, kPageSize);
  const uint64_t sums_off = history_off + kHistoryBytes;
  const uint64_t end = sums_off + sums_bytes;
  // A gap held an earlier app: a new image starts as zeros (and so does its
  // checksum table: zeros stand for zero pages), and its old records must not
  // validate in the new ring. Cleared before the entry goes
  // live, so a crash in between leaves only a free entry and a free gap.
  if (gap != 0) RESPCT_RETURN_IF_ERROR(file_->Zero(image_off, end - image_off));
  if (gap == 0 && end > pool_size)
    return Status::ResourceExhausted("pool " + path() + " is full: app '" + req.name + "' needs " +
                                     std::to_string((end - cursor_) >> 20) + " MiB, " +
                                     std::to_string((pool_size - std::min(cursor_, pool_size)) >> 20) + " MiB free");

  // Fill the whole entry while its state says free, persist it, then flip
  // the state word: a crash before the flip leaves a free entry.
  AppEntry* e = entry(slot);
  std::memset(e, 0, sizeof *e);
  e->entry_version = kAppEntryVersion;
  std::memcpy(e->name, req.name.data(), req.name.size());
  e->app_id = wire::AppIdOf(req.name.data(), req.name.size());
  e->region_count = static_cast<uint32_t>(req.regions.size());
  e->image_offset = image_off;
  e->image_size = image_size;
  e->ring_offset = ring_off;
  e->ring_capacity = ring;
  e->created_unix_ns = UnixNs();
  e->history_offset = history_off;
  e->history_entries = kEpochHistoryEntries;
  e->sums_offset = sums_off;
  uint64_t off = 0;
  for (size_t i = 0; i < req.regions.size(); ++i) {
    const auto& r = req.regions[i];
    e->regions[i] = RegionEntry{r.id, 0, r.size, r.base_addr, off};
    off += AlignUp(r.size, kPageSize);
  }
  e->checksum = AppEntryChecksum(*e);
  AppliedMark m{};
  m.seq = 1;
  m.checksum = MarkChecksum(m);
  e->mark[0] = m;
  file_->Persist(e, sizeof *e);
  e->state = kAppLive;
  file_->Persist(&e->state, sizeof e->state);
  // Only a hint (see pool_layout.h), so it goes after the flip.
  if (end > cursor_) {
    superblock()->data_cursor = end;
    file_->Persist(&superblock()->data_cursor, sizeof(uint64_t));
    cursor_ = end;
  }

  auto app = App::Load(file_.get(), e);
  RESPCT_RETURN_IF_ERROR(app->health());
  spdlog::info("created app '{}': {} region(s), image {} KiB, ring {} KiB", req.name, req.regions.size(),
               image_size >> 10, ring >> 10);
  apps_.push_back(std::move(app));
  return apps_.back().get();
}

Status Pool::RemoveLocked(App* app) {
  if (read_only()) return Status::FailedPrecondition("pool " + path() + " is open read-only");
  RESPCT_RETURN_IF_ERROR(app->Retire("app '" + app->name() + "' was reset by a new writer"));
  AppEntry* e = app->entry();
  e->state = kAppFree;
  file_->Persist(&e->state, sizeof e->state);
  for (auto it = apps_.begin(); it != apps_.end(); ++it) {
    if (it->get() != app) continue;
    retired_.push_back(std::move(*it));
    apps_.erase(it);
    break;
  }
  return Status::OK();
}

uint64_t Pool::FindGapLocked(uint64_t bytes) const {
  std::vector<std::pair<uint64_t, uint64_t>> used;
  for (const auto& a : apps_) {
    // A damaged entry whose extent is unknown may own any gap: allocate at the cursor only.
    if (a->alloc_end() == 0) return 0;
    used.emplace_back(a->alloc_begin(), a->alloc_end());
  }
  std::sort(used.begin(), used.end());
  uint64_t start = kDataOffset;
  for (const auto& [begin, end] : used) {
    if (begin >= start + bytes && AlignUp(start, kAllocAlign) + bytes <= begin) return AlignUp(start, kAllocAlign);
    start = std::max(start, end);
  }
  const uint64_t s = AlignUp(start, kAllocAlign);
  return s + bytes <= cursor_ ? s : 0;
}

std::vector<Pool::AppCheck> Pool::Verify() const {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<AppCheck> out;
  for (const auto& app : apps_) out.push_back(AppCheck{app->name(), app->VerifyImage()});
  return out;
}

std::vector<wire::AppSummary> Pool::ListApps() const {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<wire::AppSummary> out;
  out.reserve(apps_.size());
  for (const auto& app : apps_) out.push_back(app->Summary());
  return out;
}

}  // namespace respct::memnode
