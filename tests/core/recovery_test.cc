// Recovery without LD_PRELOAD: Prepare checks an image against this very
// process (build-id, globals, TLS, libraries, AT_RANDOM, a resumable thread
// table) and refuses one that differs with a message that says what; then
// RestoreMemory copies regions back, keeping the process-owned parts of the
// globals, and RestoreThreadStack a thread's stack and TLS block.
#include "runtime/core/recovery.h"

#include <gtest/gtest.h>
#include <sys/auxv.h>
#include <sys/mman.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <vector>

#include "tests/support/test_image_file.h"

namespace respct::core {
namespace {

using respct::testing::TestImageFile;

constexpr uint32_t kThreads = 2;
constexpr size_t kStackSize = 64u << 10;
constexpr size_t kHeapSize = 16u << 20;
constexpr uint64_t kEpoch = 9;

class RecoveryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto p = LoadedProgram::Inspect();
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    prog_ = std::move(p.value());
    void* s = mmap(nullptr, kThreads * kStackSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ASSERT_NE(s, MAP_FAILED);
    stacks_ = static_cast<uint8_t*>(s);
    // The layout puts the stacks region on the mapping, so that a restored
    // stack lands in memory this test owns.
    layout_.base = reinterpret_cast<uintptr_t>(stacks_) - 2 * kRegionSpacing;
    layout_.heap_size = kHeapSize;
    layout_.stack_size = kStackSize;
    layout_.max_threads = kThreads;
  }
  void TearDown() override { munmap(stacks_, kThreads * kStackSize); }

  // The meta header of an image this process may resume.
  MetaHeader ThisProcess() const {
    MetaHeader m{};
    m.magic = kMetaMagic;
    m.version = kMetaVersion;
    m.max_threads = kThreads;
    m.epoch = kEpoch;
    m.base = layout_.base;
    m.heap_size = layout_.heap_size;
    m.stack_size = layout_.stack_size;
    m.globals_base = prog_.globals_base;
    m.globals_size = prog_.globals_size;
    m.slots_offset = MetaSlotsOffset();
    std::memcpy(m.build_id, prog_.build_id.data(), prog_.build_id.size());
    m.build_id_len = static_cast<uint32_t>(prog_.build_id.size());
    std::memcpy(m.at_random, reinterpret_cast<const void*>(getauxval(AT_RANDOM)), sizeof m.at_random);
    m.tls_size = prog_.tls_size;
    m.tls_align = prog_.tls_align;
    m.library_count = static_cast<uint32_t>(std::min<size_t>(prog_.libraries.size(), kMaxLibraries));
    for (uint32_t i = 0; i < m.library_count; ++i) {
      std::strncpy(m.libraries[i].name, prog_.libraries[i].name.c_str(), sizeof m.libraries[i].name);
      m.libraries[i].load_addr = prog_.libraries[i].load_addr;
    }
    m.library_globals_count = static_cast<uint32_t>(std::min<size_t>(prog_.library_globals.size(), kMaxLibraryGlobals));
    for (uint32_t i = 0; i < m.library_globals_count; ++i) {
      m.library_globals[i].base = prog_.library_globals[i].base;
      m.library_globals[i].size = prog_.library_globals[i].size;
    }
    return m;
  }
  // Thread slot 0, parked: its saved context 1 KiB below its entry frame,
  // and a TLS block near the top of its stack.
  ThreadSlot ParkedSlot() const {
    ThreadSlot s{};
    s.state = kSlotParked;
    s.stack_lo = layout_.stack_of(0);
    s.stack_hi = s.stack_lo + kStackSize;
    s.entry_sp = s.stack_hi - 4096;
    s.fctx = s.entry_sp - 1024;
    s.tls_addr = s.stack_hi - 512;
    s.tls_size = 32;
    std::memset(s.tls_image, 0x7e, s.tls_size);
    return s;
  }

  // Writes an image: `meta` and `slot` in the meta region, `heap` as the
  // heap's stored prefix, `stack` as slot 0's stack, and `globals` (if not
  // empty) as the globals region living at `globals_base`.
  void WriteImage(const MetaHeader& meta, const ThreadSlot& slot, std::vector<uint8_t> heap = {},
                  std::vector<uint8_t> stack = {}, std::vector<uint8_t> globals = {}, uintptr_t globals_base = 0) {
    std::vector<uint8_t> meta_bytes(layout_.meta_size(), 0);
    std::memcpy(meta_bytes.data(), &meta, sizeof meta);
    std::memcpy(meta_bytes.data() + MetaSlotsOffset(), &slot, sizeof slot);
    std::vector<TestImageFile::Region> regions{
        {kMetaRegion, layout_.meta_base(), layout_.meta_size(), meta_bytes},
        {kHeapRegion, layout_.heap_base(), layout_.heap_size, std::move(heap)},
        {kStackRegion, layout_.stacks_base(), layout_.stacks_size(), std::move(stack)}};
    if (!globals.empty()) regions.push_back({kGlobalsRegion, globals_base, globals.size(), std::move(globals)});
    auto f = TestImageFile::Write(kEpoch, "app", regions);
    ASSERT_TRUE(f.ok()) << f.status().ToString();
    file_ = std::make_unique<TestImageFile>(std::move(f.value()));
  }
  Result<std::unique_ptr<Recovery>> Prepare(Layout* layout) {
    RuntimeConfig config;
    config.recover_image = file_->path();
    return Recovery::Prepare(config, prog_, layout);
  }
  // Prepare refuses the image whose meta header `change` altered, saying `why`.
  void ExpectRefused(const std::function<void(MetaHeader*)>& change, const std::string& why) {
    MetaHeader m = ThisProcess();
    change(&m);
    WriteImage(m, ParkedSlot());
    Layout l;
    auto r = Prepare(&l);
    ASSERT_FALSE(r.ok()) << why;
    EXPECT_NE(r.status().message().find(why), std::string::npos) << r.status().ToString();
  }

  LoadedProgram prog_;
  uint8_t* stacks_ = nullptr;
  Layout layout_;
  std::unique_ptr<TestImageFile> file_;
};

TEST_F(RecoveryTest, PrepareTakesTheLayoutOfAnImageOfThisProgram) {
  WriteImage(ThisProcess(), ParkedSlot());
  Layout l;
  auto r = Prepare(&l);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ((*r)->epoch(), kEpoch);
  EXPECT_EQ(l.base, layout_.base);
  EXPECT_EQ(l.heap_size, kHeapSize);
  EXPECT_EQ(l.stack_size, kStackSize);
  EXPECT_EQ(l.max_threads, kThreads);
}

TEST_F(RecoveryTest, PrepareRefusesAnImageOfAnotherProcessSayingWhatDiffers) {
  ExpectRefused([](MetaHeader* m) { m->build_id[0] ^= 1; }, "the program changed");
  ExpectRefused([](MetaHeader* m) { m->globals_base += 4096; }, "was ASLR on?");
  ExpectRefused([](MetaHeader* m) { m->tls_size += 16; }, "static TLS block");
  ExpectRefused([](MetaHeader* m) { m->libraries[0].load_addr += 4096; }, "loaded libraries differ (library 0");
  ExpectRefused([](MetaHeader* m) { m->library_count -= 1; }, "loaded libraries differ");
  ExpectRefused([](MetaHeader* m) { m->library_globals_count += 1; }, "persists the data of");
  ExpectRefused([](MetaHeader* m) { m->at_random[3] ^= 1; }, "AT_RANDOM differs");
  ExpectRefused([](MetaHeader* m) { m->exited = kMetaExitedMark; }, "finished run");
  ExpectRefused([](MetaHeader* m) { m->heap_size *= 2; }, "region sizes do not match");
}

TEST_F(RecoveryTest, PrepareRefusesAThreadTableItCannotResume) {
  ThreadSlot off_stack = ParkedSlot();
  off_stack.fctx = off_stack.stack_lo - 8;
  WriteImage(ThisProcess(), off_stack);
  Layout l;
  auto r = Prepare(&l);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("saved context outside its stack"), std::string::npos) << r.status().ToString();
  ThreadSlot running = ParkedSlot();
  running.state = kSlotRunning;
  WriteImage(ThisProcess(), running);
  r = Prepare(&l);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("not a restart point"), std::string::npos) << r.status().ToString();
  RuntimeConfig config;
  config.recover_image = "/nonexistent/respct-image";
  EXPECT_TRUE(Recovery::Prepare(config, prog_, &l).status().IsNotFound());
}

TEST_F(RecoveryTest, RestoresRegionsButNotTheProcessOwnedGlobals) {
  std::vector<uint8_t> heap_image(3 * 4096 + 100);
  for (size_t i = 0; i < heap_image.size(); ++i) heap_image[i] = static_cast<uint8_t>(i * 7);
  std::vector<uint8_t> globals(4096, 0xa1), globals_image(4096, 0xb2);
  WriteImage(ThisProcess(), ParkedSlot(), heap_image, {}, globals_image, reinterpret_cast<uintptr_t>(globals.data()));
  Layout l;
  auto r = Prepare(&l);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  std::vector<uint8_t> heap(2 * heap_image.size(), 0xee);
  const auto g = reinterpret_cast<uintptr_t>(globals.data());
  (*r)->RestoreMemory({{kHeapRegion, reinterpret_cast<uintptr_t>(heap.data()), heap.size()},
                       {kGlobalsRegion, g, globals.size()}},
                      {{g + 64, g + 128}, {g + 4000, g + 8000}}, {});
  // The heap: the stored prefix, and nothing past it.
  EXPECT_EQ(std::memcmp(heap.data(), heap_image.data(), heap_image.size()), 0);
  EXPECT_EQ(heap[heap_image.size()], 0xee);
  // The globals: the image's bytes around what this process owns.
  for (size_t i = 0; i < globals.size(); ++i) {
    const bool owned = (i >= 64 && i < 128) || i >= 4000;
    ASSERT_EQ(globals[i], owned ? 0xa1 : 0xb2) << "byte " << i;
  }
}

TEST_F(RecoveryTest, RestoresAThreadsStackFromItsSavedContextAndItsTls) {
  const ThreadSlot slot = ParkedSlot();
  std::vector<uint8_t> stack(kStackSize);  // slot 0's stack is the stored prefix of the region
  for (size_t i = 0; i < stack.size(); ++i) stack[i] = static_cast<uint8_t>(i * 13 + 1);
  WriteImage(ThisProcess(), slot, {}, stack);
  Layout l;
  auto r = Prepare(&l);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  std::memset(stacks_, 0xee, kStackSize);
  (*r)->RestoreThreadStack(slot, l.stacks_base());
  const size_t lo = slot.fctx - l.stacks_base(), hi = slot.entry_sp - l.stacks_base();
  EXPECT_EQ(std::memcmp(stacks_ + lo, stack.data() + lo, hi - lo), 0);
  EXPECT_EQ(stacks_[lo - 1], 0xee);  // below the saved context: dead stack, left alone
  EXPECT_EQ(stacks_[hi], 0xee);      // glibc's start frame, never restored
  const size_t tls = slot.tls_addr - l.stacks_base();
  for (size_t i = 0; i < slot.tls_size; ++i) EXPECT_EQ(stacks_[tls + i], 0x7e);
  EXPECT_EQ(stacks_[tls + slot.tls_size], 0xee);
}

}  // namespace
}  // namespace respct::core
