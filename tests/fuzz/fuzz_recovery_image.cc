// fuzz_recovery_image: the recovery-image reader (runtime/core/
// recovery_image.h) on files a crash, a full disk or a hostile user made.
// Opening must refuse what it cannot read; an image that CheckResumable
// accepts must be one whose restore stays inside its regions — every thread
// stack copy inside the stacks region, every TLS copy inside that thread's
// own stack — because the shim copies from it into live memory next.
//
// Input: a mode byte, then either the whole file (mode 0) or patches
// (offset u16, xor byte) applied to a valid image the target builds at start
// (four thread slots, two of them parked with saved contexts), so that the
// fuzzer starts from an image that passes every check and bends it.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "runtime/core/layout.h"
#include "runtime/core/meta_region.h"
#include "runtime/core/recovery_image.h"
#include "runtime/core/thread_table.h"
#include "tests/fuzz/scripted_channel.h"

namespace respct::fuzz {
namespace {

using core::kPageSize;

constexpr uint32_t kThreads = 4;
constexpr uint64_t kStackSize = 64u << 10;
constexpr uint64_t kHeapSize = 1u << 20;

void Require(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "fuzz_recovery_image: %s\n", what);
  std::abort();
}

// A small valid image: header page, then the meta region, a heap page and
// the used tops of the thread stacks, each region's stored prefix at a
// page-aligned offset.
std::vector<uint8_t> BuildTemplate() {
  core::Layout l;
  l.base = core::kDefaultBase;
  l.heap_size = kHeapSize;
  l.stack_size = kStackSize;
  l.max_threads = kThreads;
  core::RecoveryImageHeader h{};
  h.magic = core::kRecoveryImageMagic;
  h.version = core::kRecoveryImageVersion;
  h.epoch = 7;
  std::memcpy(h.app, "fuzz", 5);
  const uint64_t meta_stored = l.meta_size();
  const uint64_t stacks_stored = kStackSize * 2;  // slots 0 and 1
  uint64_t at = kPageSize;
  auto add = [&](uint32_t id, uint64_t base, uint64_t size, uint64_t stored) {
    h.regions[h.region_count++] = core::RecoveryRegion{id, 0, base, size, stored, at};
    at += (stored + kPageSize - 1) / kPageSize * kPageSize;
  };
  add(core::kMetaRegion, l.meta_base(), l.meta_size(), meta_stored);
  add(core::kHeapRegion, l.heap_base(), l.heap_size, kPageSize);
  add(core::kStackRegion, l.stacks_base(), l.stacks_size(), stacks_stored);
  std::vector<uint8_t> file(at);
  std::memcpy(file.data(), &h, sizeof h);

  uint8_t* meta = file.data() + h.regions[0].file_offset;
  core::MetaHeader m{};
  m.magic = core::kMetaMagic;
  m.version = core::kMetaVersion;
  m.max_threads = kThreads;
  m.epoch = 7;
  m.base = l.base;
  m.heap_size = l.heap_size;
  m.stack_size = l.stack_size;
  m.slots_offset = core::MetaSlotsOffset();
  std::memcpy(meta, &m, sizeof m);
  for (uint32_t i = 0; i < kThreads; ++i) {
    core::ThreadSlot s{};
    s.index = i;
    s.state = i < 2 ? core::kSlotParked : (i == 2 ? core::kSlotExited : core::kSlotFree);
    s.stack_lo = l.stack_of(i);
    s.stack_hi = s.stack_lo + kStackSize;
    s.entry_sp = s.stack_hi - 4096;
    s.fctx = s.entry_sp - 1024;
    s.tls_addr = s.stack_hi - 2048;
    s.tls_size = 64;
    std::memcpy(meta + core::MetaSlotsOffset() + i * sizeof s, &s, sizeof s);
  }
  return file;
}

struct Globals {
  std::vector<uint8_t> image;
  int fd = -1;
  std::string path;
  std::vector<uint8_t> scratch = std::vector<uint8_t>(kStackSize * kThreads);
};
Globals* g = nullptr;

void Exercise(const core::RecoveryImage& img) {
  const core::RecoveryRegion* meta = img.region(core::kMetaRegion);
  Require(meta != nullptr, "an opened image without a meta region");
  (void)core::LiveThreadsInMeta(img.bytes(*meta), meta->stored);
  if (!img.CheckResumable("fuzz image").ok()) return;
  // What RestoreThreadStack does for each thread to resume, bounds asserted.
  const core::Layout l = img.ImageLayout();
  const core::RecoveryRegion& stacks = *img.region(core::kStackRegion);
  for (uint32_t i = 0; i < img.meta().max_threads; ++i) {
    const core::ThreadSlot& s = img.slot(i);
    if (s.state != core::kSlotParked && s.state != core::kSlotBlocked && s.state != core::kSlotFrozen) continue;
    const uint64_t offset = s.fctx - l.stacks_base();
    const uint64_t len = s.entry_sp - s.fctx;
    Require(s.fctx >= l.stacks_base() && offset <= stacks.size && len <= stacks.size - offset,
            "a resumable image whose stack restore leaves the stacks region");
    Require(len <= l.stack_size && s.fctx >= l.stack_of(i) && s.entry_sp <= l.stack_of(i) + l.stack_size,
            "a resumable image whose stack restore leaves the thread's own stack");
    Require(s.tls_size == 0 || (s.tls_addr >= l.stack_of(i) && s.tls_addr + s.tls_size <= l.stack_of(i) + l.stack_size),
            "a resumable image whose TLS restore leaves the thread's stack");
    if (len <= g->scratch.size()) img.CopyOut(stacks, offset, len, g->scratch.data());
  }
  // And whole regions, as RestoreMemory copies them (prefix-bounded reads).
  for (uint32_t id : {core::kMetaRegion, core::kHeapRegion}) {
    const core::RecoveryRegion& r = *img.region(id);
    const size_t n = std::min<uint64_t>(r.size, g->scratch.size());
    img.CopyOut(r, 0, n, g->scratch.data());
  }
}

}  // namespace
}  // namespace respct::fuzz

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  using namespace respct::fuzz;
  g = new Globals;
  g->image = BuildTemplate();
  g->fd = memfd_create("fuzz-recovery-image", MFD_CLOEXEC);
  Require(g->fd >= 0, "memfd_create");
  g->path = "/proc/self/fd/" + std::to_string(g->fd);
  // The template itself must open and be resumable, or the target tests nothing.
  Require(pwrite(g->fd, g->image.data(), g->image.size(), 0) == static_cast<ssize_t>(g->image.size()), "pwrite");
  auto img = respct::core::RecoveryImage::Open(g->path);
  Require(img.ok() && img->CheckResumable("template").ok(), "the template image is not resumable");
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace respct::fuzz;
  FuzzBytes in(data, size);
  std::vector<uint8_t> file;
  if (in.U8() % 4 == 0) {
    file = in.Take(in.remaining());
  } else {
    file = g->image;
    while (!in.empty()) {
      const uint16_t at = in.U16();
      const uint8_t x = in.U8();
      if (at < file.size()) file[at] ^= x;
    }
  }
  if (ftruncate(g->fd, 0) != 0 || pwrite(g->fd, file.data(), file.size(), 0) != static_cast<ssize_t>(file.size()))
    return 0;
  auto img = respct::core::RecoveryImage::Open(g->path);
  if (img.ok()) Exercise(*img);
  return 0;
}
