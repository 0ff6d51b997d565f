// Pool file: creation, reopening, refusal of foreign/bad/locked files, and
// crash-atomic app creation.
#include <fcntl.h>
#include <unistd.h>

#include <cstring>

#include "memnode/pool.h"
#include "memnode/pool_layout.h"
#include "tests/memnode/test_util.h"

namespace respct::memnode {
namespace {

using testing::Region;
using testing::TempDir;

constexpr uint64_t kPool = 64ull << 20;

Result<std::unique_ptr<Pool>> OpenRW(const std::string& path, uint64_t size = kPool) {
  return Pool::Open(path, size, Pool::OpenMode::kReadWrite);
}

Pool::AttachRequest CreateReq(const std::string& name, std::vector<wire::RegionDesc> regions) {
  Pool::AttachRequest r;
  r.name = name;
  r.regions = std::move(regions);
  r.create = true;
  r.ring_capacity = wire::kMinRingCapacity;
  return r;
}

void PatchFile(const std::string& path, uint64_t offset, const void* data, size_t len) {
  const int fd = open(path.c_str(), O_RDWR | O_CREAT, 0600);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(pwrite(fd, data, len, static_cast<off_t>(offset)), static_cast<ssize_t>(len));
  close(fd);
}

TEST(PoolTest, CreateReopenAndList) {
  TempDir dir;
  const std::string path = dir.File("sub/dir/pool");  // parent directories are created
  {
    auto pool = OpenRW(path);
    ASSERT_TRUE(pool.ok()) << pool.status().ToString();
    EXPECT_FALSE((*pool)->is_pmem());  // /tmp is no DAX file system
    EXPECT_EQ((*pool)->size(), kPool);
    EXPECT_TRUE((*pool)->ListApps().empty());
    auto app = (*pool)->Attach(CreateReq("bank", {Region(1, 10000), Region(7, 4096)}));
    ASSERT_TRUE(app.ok()) << app.status().ToString();
    EXPECT_EQ((*app)->app_id(), wire::AppIdOf("bank", 4));
  }
  for (auto mode : {Pool::OpenMode::kReadWrite, Pool::OpenMode::kReadOnly}) {
    auto pool = Pool::Open(path, 0, mode);
    ASSERT_TRUE(pool.ok()) << pool.status().ToString();
    const auto apps = (*pool)->ListApps();
    ASSERT_EQ(apps.size(), 1u);
    EXPECT_STREQ(apps[0].name, "bank");
    EXPECT_EQ(apps[0].region_count, 2u);
    EXPECT_EQ(apps[0].image_size, 12288u + 4096u);
    EXPECT_EQ(apps[0].ring_capacity, wire::kMinRingCapacity);
    EXPECT_EQ(apps[0].committed_epoch, 0u);
    App* app = (*pool)->Find("bank");
    ASSERT_NE(app, nullptr);
    ASSERT_EQ(app->regions().size(), 2u);
    EXPECT_EQ(app->regions()[0].size, 10000u);
    EXPECT_EQ(app->regions()[1].id, 7u);
    EXPECT_EQ(app->regions()[1].image_offset, 12288u);
  }
}

TEST(PoolTest, ReadOnlyNeverCreates) {
  TempDir dir;
  auto pool = Pool::Open(dir.File("none"), kPool, Pool::OpenMode::kReadOnly);
  ASSERT_FALSE(pool.ok());
  EXPECT_TRUE(pool.status().IsNotFound()) << pool.status().ToString();
  EXPECT_NE(access(dir.File("none").c_str(), F_OK), 0);
}

TEST(PoolTest, RefusesForeignFile) {
  TempDir dir;
  const std::string path = dir.File("pool");
  const int fd = open(path.c_str(), O_RDWR | O_CREAT, 0600);
  ASSERT_EQ(ftruncate(fd, kPool), 0);
  close(fd);
  auto pool = OpenRW(path);
  ASSERT_FALSE(pool.ok());
  EXPECT_TRUE(pool.status().IsCorruption());
  EXPECT_NE(pool.status().message().find("not a respct pool"), std::string::npos) << pool.status().ToString();
}

TEST(PoolTest, RefusesTinyFile) {
  TempDir dir;
  const std::string path = dir.File("pool");
  PatchFile(path + "", 0, "hello", 5);
  auto pool = Pool::Open(path, 0, Pool::OpenMode::kReadOnly);
  ASSERT_FALSE(pool.ok());
  EXPECT_NE(pool.status().message().find("not a respct pool"), std::string::npos) << pool.status().ToString();
}

TEST(PoolTest, RefusesOtherVersion) {
  TempDir dir;
  const std::string path = dir.File("pool");
  ASSERT_TRUE(OpenRW(path).ok());
  // A newer layout's superblock, checksum and all.
  Superblock sb;
  const int fd = open(path.c_str(), O_RDONLY);
  ASSERT_EQ(pread(fd, &sb, sizeof sb, 0), static_cast<ssize_t>(sizeof sb));
  close(fd);
  sb.version = kPoolVersion + 1;
  sb.checksum = SuperblockChecksum(sb);
  PatchFile(path, 0, &sb, sizeof sb);
  auto pool = OpenRW(path);
  ASSERT_FALSE(pool.ok());
  EXPECT_NE(pool.status().message().find("version " + std::to_string(kPoolVersion + 1)), std::string::npos)
      << pool.status().ToString();
}

TEST(PoolTest, RestoresADamagedSuperblockFromItsCopy) {
  TempDir dir;
  const std::string path = dir.File("pool");
  {
    auto pool = OpenRW(path);
    ASSERT_TRUE(pool.ok());
    ASSERT_TRUE((*pool)->Attach(CreateReq("kept", {Region(1, 8192)})).ok());
  }
  const uint64_t bogus = 1ull << 40;
  PatchFile(path, offsetof(Superblock, pool_size), &bogus, sizeof bogus);
  {
    auto pool = OpenRW(path);
    ASSERT_TRUE(pool.ok()) << pool.status().ToString();
    EXPECT_NE((*pool)->Find("kept"), nullptr);
  }
  // Restored in place: the primary passes again on its own.
  Superblock sb;
  const int fd = open(path.c_str(), O_RDONLY);
  ASSERT_EQ(pread(fd, &sb, sizeof sb, 0), static_cast<ssize_t>(sizeof sb));
  close(fd);
  EXPECT_EQ(sb.checksum, SuperblockChecksum(sb));
  EXPECT_NE(sb.pool_size, bogus);
}

TEST(PoolTest, RefusesASuperblockAndCopyBothDamaged) {
  TempDir dir;
  const std::string path = dir.File("pool");
  ASSERT_TRUE(OpenRW(path).ok());
  const uint64_t bogus = 1ull << 40;
  PatchFile(path, offsetof(Superblock, pool_size), &bogus, sizeof bogus);
  PatchFile(path, kSuperblockCopyOffset + offsetof(Superblock, pool_size), &bogus, sizeof bogus);
  for (auto mode : {Pool::OpenMode::kReadWrite, Pool::OpenMode::kReadOnly}) {
    auto pool = Pool::Open(path, 0, mode);
    ASSERT_FALSE(pool.ok());
    EXPECT_TRUE(pool.status().IsCorruption());
    EXPECT_NE(pool.status().message().find("both fail their checksums"), std::string::npos) << pool.status().ToString();
  }
}

TEST(PoolTest, AnAppWhoseNameIsDamagedIsPointedAtWhenLookedFor) {
  TempDir dir;
  const std::string path = dir.File("pool");
  {
    auto pool = OpenRW(path);
    ASSERT_TRUE(pool.ok());
    ASSERT_TRUE((*pool)->Attach(CreateReq("named", {Region(1, 8192)})).ok());
  }
  const char flipped = 'n' ^ 0x01;
  PatchFile(path, kAppTableOffset + offsetof(AppEntry, name), &flipped, 1);
  auto pool = OpenRW(path);
  ASSERT_TRUE(pool.ok());
  Pool::AttachRequest r;
  r.name = "named";
  const Status st = (*pool)->Attach(r).status();
  EXPECT_TRUE(st.IsNotFound());
  EXPECT_NE(st.message().find("1 damaged app table entry"), std::string::npos) << st.ToString();
}

TEST(PoolTest, RefusesTruncatedPool) {
  TempDir dir;
  const std::string path = dir.File("pool");
  ASSERT_TRUE(OpenRW(path).ok());
  ASSERT_EQ(truncate(path.c_str(), kPool / 2), 0);
  auto pool = OpenRW(path);
  ASSERT_FALSE(pool.ok());
  EXPECT_NE(pool.status().message().find("truncated"), std::string::npos) << pool.status().ToString();
}

TEST(PoolTest, RefusesTooSmallSize) {
  TempDir dir;
  auto pool = OpenRW(dir.File("pool"), 1 << 20);
  ASSERT_FALSE(pool.ok());
  EXPECT_NE(pool.status().message().find("too small"), std::string::npos) << pool.status().ToString();
  EXPECT_NE(access(dir.File("pool").c_str(), F_OK), 0);
}

TEST(PoolTest, LockedByAnotherMemnode) {
  TempDir dir;
  const std::string path = dir.File("pool");
  auto first = OpenRW(path);
  ASSERT_TRUE(first.ok());
  auto second = OpenRW(path);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().message(), "pool " + path + " is in use by another respct-memnode");
  // Inspection needs no lock.
  EXPECT_TRUE(Pool::Open(path, 0, Pool::OpenMode::kReadOnly).ok());
  first->reset();
  EXPECT_TRUE(OpenRW(path).ok());
}

TEST(PoolTest, UnflippedAppEntryIsFree) {
  TempDir dir;
  const std::string path = dir.File("pool");
  ASSERT_TRUE(OpenRW(path).ok());
  // A creation that crashed after writing and persisting the entry but
  // before flipping its state word: a complete, checksummed entry.
  AppEntry e{};
  e.entry_version = kAppEntryVersion;
  std::memcpy(e.name, "ghost", 5);
  e.app_id = wire::AppIdOf("ghost", 5);
  e.region_count = 1;
  e.image_offset = kDataOffset;
  e.image_size = 4096;
  e.ring_offset = kDataOffset + kAllocAlign;
  e.ring_capacity = wire::kMinRingCapacity;
  e.regions[0] = RegionEntry{1, 0, 4096, 0, 0};
  e.checksum = AppEntryChecksum(e);
  e.mark[0].seq = 1;
  e.mark[0].checksum = MarkChecksum(e.mark[0]);
  e.state = kAppFree;
  PatchFile(path, kAppTableOffset, &e, sizeof e);
  {
    auto pool = OpenRW(path);
    ASSERT_TRUE(pool.ok());
    EXPECT_TRUE((*pool)->ListApps().empty());
    auto ghost = (*pool)->Attach(Pool::AttachRequest{"ghost", {}, false, 0, 0});
    EXPECT_TRUE(ghost.status().IsNotFound());
    // The free entry and its space are reused.
    auto app = (*pool)->Attach(CreateReq("real", {Region(1, 4096)}));
    ASSERT_TRUE(app.ok()) << app.status().ToString();
  }
  auto pool = OpenRW(path);
  const auto apps = (*pool)->ListApps();
  ASSERT_EQ(apps.size(), 1u);
  EXPECT_STREQ(apps[0].name, "real");
  // The same bytes with the state flipped make a live app.
  e.state = kAppLive;
  pool->reset();
  PatchFile(path, kAppTableOffset + kAppEntrySize, &e, sizeof e);
  pool = OpenRW(path);
  EXPECT_EQ((*pool)->ListApps().size(), 2u);
}

TEST(PoolTest, LostCursorUpdateDoesNotDoubleAllocate) {
  TempDir dir;
  const std::string path = dir.File("pool");
  uint64_t first_end = 0;
  {
    auto pool = OpenRW(path);
    auto app = (*pool)->Attach(CreateReq("a", {Region(1, 8192)}));
    ASSERT_TRUE(app.ok());
    first_end = (*app)->alloc_end();
  }
  // Crash between the state flip and the cursor update.
  const uint64_t stale = kDataOffset;
  PatchFile(path, offsetof(Superblock, data_cursor), &stale, sizeof stale);
  auto pool = OpenRW(path);
  auto b = (*pool)->Attach(CreateReq("b", {Region(1, 8192)}));
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_GE((*b)->alloc_end() - (*b)->regions()[0].size, first_end);
}

TEST(PoolTest, AttachRules) {
  TempDir dir;
  auto pool = OpenRW(dir.File("pool"));
  ASSERT_TRUE(pool.ok());
  Pool& p = **pool;
  EXPECT_TRUE(p.Attach(Pool::AttachRequest{"nope", {Region(1, 4096)}, false, 0, 0}).status().IsNotFound());
  EXPECT_EQ(p.Attach(CreateReq("noregions", {})).status().code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(p.Attach(CreateReq("dup", {Region(1, 4096), Region(1, 4096)})).status().code(),
            Status::Code::kInvalidArgument);
  EXPECT_EQ(p.Attach(CreateReq("zero", {Region(1, 0)})).status().code(), Status::Code::kInvalidArgument);
  ASSERT_TRUE(p.Attach(CreateReq("app", {Region(1, 4096), Region(2, 100)})).ok());
  // Same layout, or none, attaches; another layout is refused.
  EXPECT_TRUE(p.Attach(CreateReq("app", {Region(1, 4096), Region(2, 100)})).ok());
  EXPECT_TRUE(p.Attach(Pool::AttachRequest{"app", {}, false, 0, 0}).ok());
  auto other = p.Attach(CreateReq("app", {Region(1, 4096), Region(2, 200)}));
  EXPECT_EQ(other.status().code(), Status::Code::kFailedPrecondition);
  EXPECT_NE(other.status().message().find("exists with a different region layout"), std::string::npos);
  // One writer at a time.
  App* app = p.Find("app");
  AppPosition pos;
  ASSERT_TRUE(app->AttachWriter(&pos).ok());
  Status second = app->AttachWriter(&pos);
  EXPECT_TRUE(second.IsBusy()) << second.ToString();
  EXPECT_EQ(second.message(), "app 'app' already has a writer attached");
  EXPECT_EQ(p.ListApps()[0].writer_attached, 1u);
  app->DetachWriter();
  EXPECT_TRUE(app->AttachWriter(&pos).ok());
}

TEST(PoolTest, FullPool) {
  TempDir dir;
  auto pool = OpenRW(dir.File("pool"), kMinPoolSize);
  ASSERT_TRUE(pool.ok()) << pool.status().ToString();
  ASSERT_TRUE((*pool)->Attach(CreateReq("one", {Region(1, 4096)})).ok());
  auto two = (*pool)->Attach(CreateReq("two", {Region(1, 4096)}));
  EXPECT_EQ(two.status().code(), Status::Code::kResourceExhausted) << two.status().ToString();
  EXPECT_EQ((*pool)->ListApps().size(), 1u);
}

}  // namespace
}  // namespace respct::memnode

namespace respct::memnode {
namespace {

// A writer starting over (respct-run --fresh): the old image and epochs are
// gone, the extent is reused and reads as zeros, old records never replay,
// and the reset survives a reopen.
TEST(PoolResetTest, DiscardsImageAndEpochsAndReusesTheExtent) {
  testing::TempDir dir;
  const std::string path = dir.File("pool");
  const std::vector<wire::RegionDesc> regions = {testing::Region(1, 64 << 10)};
  uint64_t first_extent = 0;
  {
    auto pool = Pool::Open(path, 64ull << 20, Pool::OpenMode::kReadWrite);
    ASSERT_TRUE(pool.ok()) << pool.status().ToString();
    Pool::AttachRequest req;
    req.name = "app";
    req.regions = regions;
    req.create = true;
    req.ring_capacity = wire::kMinRingCapacity;
    auto app = (*pool)->Attach(req);
    ASSERT_TRUE(app.ok());
    first_extent = (*app)->alloc_begin();
    testing::EpochBuilder b(*app);
    ASSERT_TRUE(b.Add(1, 100, std::vector<uint8_t>(500, 0xab)));
    ASSERT_TRUE(b.CommitAndApply().ok());
    AppPosition pos;
    ASSERT_TRUE((*app)->AttachWriter(&pos).ok());
    req.reset = true;
    EXPECT_EQ((*pool)->Attach(req).status().code(), Status::Code::kBusy) << "no reset under a live writer";
    (*app)->DetachWriter();
    auto fresh = (*pool)->Attach(req);
    ASSERT_TRUE(fresh.ok()) << fresh.status().ToString();
    EXPECT_EQ((*fresh)->alloc_begin(), first_extent);
    EXPECT_EQ((*fresh)->Position().committed_epoch, 0u);
    EXPECT_EQ(testing::ReadRegion(*fresh, 1, 64 << 10), std::vector<uint8_t>(64 << 10, 0));
    EXPECT_FALSE((*app)->health().ok()) << "the old App object is retired";
    EXPECT_EQ((*pool)->ListApps().size(), 1u);
  }
  auto pool = Pool::Open(path, 0, Pool::OpenMode::kReadWrite);
  ASSERT_TRUE(pool.ok());
  App* app = (*pool)->Find("app");
  ASSERT_NE(app, nullptr);
  EXPECT_EQ(app->Position().committed_epoch, 0u) << "old commit records must not replay";
  EXPECT_EQ(testing::ReadRegion(app, 1, 64 << 10), std::vector<uint8_t>(64 << 10, 0));
}

}  // namespace
}  // namespace respct::memnode
