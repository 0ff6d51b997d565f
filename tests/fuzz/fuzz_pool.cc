// fuzz_pool: opening a respct-memnode pool file (memnode/pool.h) whose bytes
// were damaged — a torn write, a bit flip, a hostile edit — and using it as
// the daemon would: list the apps, read their images, epoch histories and
// written ranges, and read-write, attach a writer, replay what was
// committed and commit once more. Open may refuse the pool, or load an app
// whose health() says what is wrong; it must never crash, read or write
// outside the pool, or hand out image bytes outside a region.
//
// The target builds a valid pool at start (two apps; the first with a
// committed epoch not yet applied, so that opening it replays) and keeps its
// non-zero pages. Input: a mode byte (read-only or read-write open), then
// patches (page u16, offset u16, xor byte) on those pages: the superblock,
// the app table, the rings, the histories, the image pages.
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>

#include "memnode/app.h"
#include "memnode/pool.h"
#include "runtime/wire/record.h"
#include "tests/fuzz/fuzz_workdir.h"
#include "tests/fuzz/ring_epoch.h"
#include "tests/fuzz/scripted_channel.h"

namespace respct::fuzz {
namespace {

constexpr uint64_t kPoolSize = 32ull << 20;
constexpr uint64_t kPage = 4096;

void Require(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "fuzz_pool: %s\n", what);
  std::abort();
}

// One epoch of one data record, placed in an app's ring as a tcp client would.
Status CommitEpoch(memnode::App* app, uint32_t region, uint64_t offset, uint8_t fill, bool apply) {
  const memnode::AppPosition p = app->Position();
  RingEpoch writer;
  writer.Start(p.ring_capacity, p.ring_tail, p.ring_applied, p.committed_epoch + 1);
  Status placed;
  const bool room = writer.Add(region, offset, std::vector<uint8_t>(700, fill), [&](uint64_t pos, const auto& rec) {
    if (placed.ok()) placed = app->RingWrite(pos, rec.data(), rec.size());
  });
  if (!room) return Status::ResourceExhausted("ring full");
  RESPCT_RETURN_IF_ERROR(placed);
  wire::CommitAckMsg ack;
  RESPCT_RETURN_IF_ERROR(app->Commit(writer.Commit(), nullptr, &ack));
  if (!apply) return Status::OK();
  wire::RingProgressMsg progress;
  return app->ApplyCommitted(&progress);
}

memnode::App* Attach(memnode::Pool* pool, const std::string& name, uint64_t ring) {
  memnode::Pool::AttachRequest req;
  req.name = name;
  req.regions = {wire::RegionDesc{1, 0, 128u << 10, 0}, wire::RegionDesc{2, 0, 16u << 10, 0}};
  req.create = true;
  req.ring_capacity = ring;
  auto app = pool->Attach(req);
  Require(app.ok(), "template: attach");
  return *app;
}

struct Page {
  uint64_t offset;
  std::vector<uint8_t> bytes;
};

struct Globals {
  std::unique_ptr<FuzzWorkdir> dir;
  std::string path;
  std::vector<Page> pages;  // the template's non-zero pages
};
Globals* g = nullptr;

void BuildTemplate() {
  const uint64_t ring = wire::AlignUp(wire::kMinRingCapacity, kPage);
  {
    auto pool = memnode::Pool::Open(g->path, kPoolSize, memnode::Pool::OpenMode::kReadWrite);
    Require(pool.ok(), "template: create the pool");
    memnode::App* a = Attach(pool->get(), "alpha", ring);
    memnode::AppPosition pos;
    Require(a->AttachWriter(&pos).ok(), "template: writer");
    Require(CommitEpoch(a, 1, 0, 0x11, true).ok(), "template: epoch 1");
    Require(CommitEpoch(a, 2, 4096, 0x22, true).ok(), "template: epoch 2");
    Require(CommitEpoch(a, 1, 60000, 0x33, false).ok(), "template: epoch 3");  // committed, not applied
    a->DetachWriter();
    memnode::App* b = Attach(pool->get(), "beta", ring);
    Require(b->AttachWriter(&pos).ok(), "template: writer b");
    Require(CommitEpoch(b, 1, 100, 0x44, true).ok(), "template: epoch b1");
    b->DetachWriter();
  }
  const int fd = open(g->path.c_str(), O_RDONLY | O_CLOEXEC);
  Require(fd >= 0, "template: reopen");
  std::vector<uint8_t> page(kPage);
  for (uint64_t off = 0; off < kPoolSize; off += kPage) {
    // Skip holes quickly: most of the pool was never written.
    const off_t data = lseek(fd, static_cast<off_t>(off), SEEK_DATA);
    if (data < 0) break;
    off = static_cast<uint64_t>(data) / kPage * kPage;
    Require(pread(fd, page.data(), kPage, static_cast<off_t>(off)) == static_cast<ssize_t>(kPage), "template: read");
    bool zero = true;
    for (uint8_t c : page) zero = zero && c == 0;
    if (!zero) g->pages.push_back(Page{off, page});
  }
  close(fd);
  Require(!g->pages.empty(), "template: an empty pool");
}

// The template again, with `in`'s patches.
void WritePatchedPool(FuzzBytes& in) {
  std::vector<Page> pages = g->pages;
  while (!in.empty()) {
    Page& p = pages[in.U16() % pages.size()];
    const uint16_t at = in.U16() % kPage;
    p.bytes[at] ^= in.U8();
  }
  const int fd = open(g->path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  Require(fd >= 0, "open the pool file");
  Require(ftruncate(fd, static_cast<off_t>(kPoolSize)) == 0, "size the pool file");
  for (const Page& p : pages)
    Require(pwrite(fd, p.bytes.data(), kPage, static_cast<off_t>(p.offset)) == static_cast<ssize_t>(kPage),
            "write the pool file");
  close(fd);
}

void UseApp(memnode::App* app, bool read_write) {
  if (!app->health().ok()) return;
  const memnode::AppPosition pos = app->Position();
  (void)app->EpochHistory(0, pos.committed_epoch + 2);
  if (pos.committed_epoch > 0)
    (void)app->WrittenRanges(pos.committed_epoch > 8 ? pos.committed_epoch - 8 : 0, pos.committed_epoch);
  for (const memnode::RegionInfo& r : app->regions()) {
    uint64_t next = 0;
    (void)app->ReadImage(r.id, 0, std::min<uint64_t>(r.size, 1u << 20), 64u << 10,
                         [&](const memnode::App::ImagePiece& p) {
                           Require(p.offset == next && p.len <= r.size - p.offset, "image piece outside its region");
                           volatile uint8_t sink = p.len != 0 ? p.data[0] ^ p.data[p.len - 1] : 0;
                           (void)sink;
                           next = p.offset + p.len;
                           return Status::OK();
                         });
  }
  if (!read_write) return;
  memnode::AppPosition writer;
  if (!app->AttachWriter(&writer).ok()) return;
  if (!app->regions().empty()) (void)CommitEpoch(app, app->regions()[0].id, 0, 0x55, true);
  app->DetachWriter();
}

}  // namespace
}  // namespace respct::fuzz

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  using namespace respct::fuzz;
  spdlog::set_level(spdlog::level::off);
  g = new Globals;
  g->dir = std::make_unique<FuzzWorkdir>("pool");
  g->path = g->dir->File("pool");
  BuildTemplate();
  std::atexit([] { delete g; });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace respct::fuzz;
  FuzzBytes in(data, size);
  const bool read_write = (in.U8() & 1) != 0;
  WritePatchedPool(in);
  auto pool = respct::memnode::Pool::Open(g->path, kPoolSize,
                                          read_write ? respct::memnode::Pool::OpenMode::kReadWrite
                                                     : respct::memnode::Pool::OpenMode::kReadOnly);
  if (!pool.ok()) return 0;
  for (const respct::wire::AppSummary& s : (*pool)->ListApps()) {
    respct::memnode::App* app = (*pool)->Find(std::string(s.name, strnlen(s.name, sizeof s.name)));
    if (app != nullptr) UseApp(app, read_write);
  }
  return 0;
}
