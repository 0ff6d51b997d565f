// The recovery image, both halves of its format (runtime/core/
// recovery_image_writer.h writes it, recovery_image.h reads it) and the one
// meta-header check every reader uses (meta_region.h): a written image reads
// back exactly; truncated and corrupted files are refused with the code a
// caller branches on, never read past their end; a meta header claiming more
// thread slots than its region holds is a corrupt image, not an
// out-of-bounds read (issue 16: the fetch walked max_threads slots unchecked).
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "runtime/core/layout.h"
#include "runtime/core/meta_region.h"
#include "runtime/core/recovery_image.h"
#include "runtime/core/recovery_image_writer.h"
#include "runtime/core/thread_table.h"

namespace respct::core {
namespace {

constexpr uint32_t kThreads = 4;
constexpr uint64_t kStackSize = 64u << 10;
constexpr uint64_t kHeapSize = 1u << 20;

Layout TestLayout() {
  Layout l;
  l.base = kDefaultBase;
  l.heap_size = kHeapSize;
  l.stack_size = kStackSize;
  l.max_threads = kThreads;
  return l;
}

// A meta region for TestLayout: two parked threads with contexts and TLS
// inside their own stacks, one exited, one free.
std::vector<uint8_t> MetaBytes(const Layout& l) {
  std::vector<uint8_t> meta(l.meta_size());
  MetaHeader m{};
  m.magic = kMetaMagic;
  m.version = kMetaVersion;
  m.max_threads = l.max_threads;
  m.epoch = 7;
  m.base = l.base;
  m.heap_size = l.heap_size;
  m.stack_size = l.stack_size;
  m.slots_offset = MetaSlotsOffset();
  std::memcpy(meta.data(), &m, sizeof m);
  for (uint32_t i = 0; i < l.max_threads; ++i) {
    ThreadSlot s{};
    s.index = i;
    s.state = i < 2 ? kSlotParked : (i == 2 ? kSlotExited : kSlotFree);
    s.stack_lo = l.stack_of(i);
    s.stack_hi = s.stack_lo + l.stack_size;
    s.entry_sp = s.stack_hi - 4096;
    s.fctx = s.entry_sp - 1024;
    s.tls_addr = s.stack_hi - 2048;
    s.tls_size = 64;
    std::memcpy(meta.data() + MetaSlotsOffset() + i * sizeof s, &s, sizeof s);
  }
  return meta;
}

class RecoveryImageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/respct-recovery-image-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/image";
  }
  void TearDown() override {
    unlink(path_.c_str());
    rmdir(dir_.c_str());
  }

  // Writes a resumable image: the meta region whole, one heap page of
  // pattern followed by a page of zeros, and the used tops of two stacks.
  void WriteValidImage() {
    const Layout l = TestLayout();
    meta_ = MetaBytes(l);
    heap_.assign(2 * kPageSize, 0);
    for (size_t i = 0; i < kPageSize; ++i) heap_[i] = static_cast<uint8_t>(i * 7 + 1);
    stacks_.assign(2 * kStackSize, 0);
    for (size_t i = 0; i < stacks_.size(); i += 97) stacks_[i] = static_cast<uint8_t>(i);
    auto w = RecoveryImageWriter::Create(path_, "bank", 7,
                                         {{kMetaRegion, l.meta_base(), l.meta_size(), meta_.size()},
                                          {kHeapRegion, l.heap_base(), l.heap_size, heap_.size()},
                                          {kStackRegion, l.stacks_base(), l.stacks_size(), stacks_.size()}});
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    ASSERT_TRUE(w->Write(0, 0, meta_.data(), meta_.size()).ok());
    // In two pieces, the second not page-aligned: pieces land at their offsets.
    ASSERT_TRUE(w->Write(1, 0, heap_.data(), 100).ok());
    ASSERT_TRUE(w->Write(1, 100, heap_.data() + 100, heap_.size() - 100).ok());
    ASSERT_TRUE(w->Write(2, 0, stacks_.data(), stacks_.size()).ok());
    ASSERT_TRUE(w->Finish().ok());
  }

  std::vector<uint8_t> ReadFile() {
    std::ifstream in(path_, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }
  void WriteFile(const std::vector<uint8_t>& bytes) {
    std::ofstream out(path_, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  }
  // Applies `edit` to the header of the valid image (or, with `in_meta`, to
  // its meta header) and returns what Open says of the result.
  template <typename Edit>
  Status OpenEdited(Edit edit) {
    std::vector<uint8_t> file = ReadFile();
    RecoveryImageHeader h;
    std::memcpy(&h, file.data(), sizeof h);
    edit(h, file);
    std::memcpy(file.data(), &h, sizeof h);
    WriteFile(file);
    return RecoveryImage::Open(path_).status();
  }
  template <typename Edit>
  Status OpenWithMeta(Edit edit) {
    return OpenEdited([&](RecoveryImageHeader& h, std::vector<uint8_t>& file) {
      MetaHeader m;
      std::memcpy(&m, file.data() + h.regions[0].file_offset, sizeof m);
      edit(m);
      std::memcpy(file.data() + h.regions[0].file_offset, &m, sizeof m);
    });
  }

  std::string dir_, path_;
  std::vector<uint8_t> meta_, heap_, stacks_;
};

TEST_F(RecoveryImageTest, WhatTheWriterWritesTheReaderReadsBack) {
  WriteValidImage();
  auto img = RecoveryImage::Open(path_);
  ASSERT_TRUE(img.ok()) << img.status().ToString();
  EXPECT_EQ(img->header().epoch, 7u);
  EXPECT_STREQ(img->header().app, "bank");
  ASSERT_TRUE(img->CheckResumable("test image").ok()) << img->CheckResumable("test image").ToString();
  const RecoveryRegion* heap = img->region(kHeapRegion);
  ASSERT_NE(heap, nullptr);
  EXPECT_EQ(heap->stored, heap_.size());
  EXPECT_EQ(heap->file_offset % kPageSize, 0u);
  // Past the stored prefix the region reads as zero.
  std::vector<uint8_t> got(heap_.size() + kPageSize, 0xff);
  img->CopyOut(*heap, 0, got.size(), got.data());
  EXPECT_EQ(std::memcmp(got.data(), heap_.data(), heap_.size()), 0);
  EXPECT_EQ(got.back(), 0);
  std::vector<uint8_t> stacks(stacks_.size());
  img->CopyOut(*img->region(kStackRegion), 0, stacks.size(), stacks.data());
  EXPECT_EQ(stacks, stacks_);
  EXPECT_EQ(img->slot(1).state, kSlotParked);
  EXPECT_EQ(img->ImageLayout().stacks_size(), TestLayout().stacks_size());
}

TEST_F(RecoveryImageTest, ZeroPagesStayHoles) {
  WriteValidImage();
  struct stat st {};
  ASSERT_EQ(stat(path_.c_str(), &st), 0);
  // The file spans header + meta + 2 heap pages + 2 stacks, but the heap's
  // zero page and the stacks' zero pages (most of them) take no blocks.
  const uint64_t span = static_cast<uint64_t>(st.st_size);
  const uint64_t allocated = static_cast<uint64_t>(st.st_blocks) * 512;
  EXPECT_LT(allocated, span) << "allocated " << allocated << " of " << span;
}

TEST_F(RecoveryImageTest, AWriterThatDoesNotFinishLeavesNoFile) {
  const Layout l = TestLayout();
  {
    auto w = RecoveryImageWriter::Create(path_, "bank", 7, {{kMetaRegion, l.meta_base(), l.meta_size(), kPageSize}});
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    ASSERT_EQ(access(path_.c_str(), F_OK), 0);
  }
  EXPECT_NE(access(path_.c_str(), F_OK), 0) << "an unfinished image was left behind";
}

TEST_F(RecoveryImageTest, TheWriterRefusesWritesOutsideAStoredPrefix) {
  const Layout l = TestLayout();
  auto w = RecoveryImageWriter::Create(path_, "bank", 7, {{kHeapRegion, l.heap_base(), l.heap_size, kPageSize}});
  ASSERT_TRUE(w.ok());
  const std::vector<uint8_t> page(kPageSize + 1, 1);
  EXPECT_EQ(w->Write(0, 0, page.data(), page.size()).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(w->Write(0, kPageSize, page.data(), 1).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(w->Write(1, 0, page.data(), 1).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(RecoveryImageWriter::Create(path_, "bank", 7, {{kHeapRegion, l.heap_base(), 10, 11}}).status().code(),
            Status::Code::kInvalidArgument);
  EXPECT_EQ(RecoveryImageWriter::Create(path_, std::string(200, 'a'), 7, {}).status().code(),
            Status::Code::kInvalidArgument);
}

TEST_F(RecoveryImageTest, ATruncatedImageIsRefusedAtEveryLength) {
  WriteValidImage();
  const std::vector<uint8_t> whole = ReadFile();
  // Every page boundary and a byte either side of it, down to nothing.
  std::vector<size_t> lengths;
  for (size_t page = 0; page < whole.size(); page += kPageSize)
    for (size_t len : {page - 1, page, page + 1})
      if (len < whole.size()) lengths.push_back(len);  // page - 1 wraps for page 0 and is skipped
  for (size_t len : lengths) {
    std::vector<uint8_t> cut(whole.begin(), whole.begin() + static_cast<std::ptrdiff_t>(len));
    WriteFile(cut);
    auto img = RecoveryImage::Open(path_);
    ASSERT_FALSE(img.ok()) << "a " << len << "-byte prefix of a " << whole.size() << "-byte image was opened";
    EXPECT_TRUE(img.status().IsCorruption()) << len << ": " << img.status().ToString();
  }
}

TEST_F(RecoveryImageTest, ACorruptedHeaderIsCorruption) {
  WriteValidImage();
  const std::vector<uint8_t> valid = ReadFile();
  auto expect_corruption = [&](const char* what, auto edit) {
    WriteFile(valid);
    const Status st = OpenEdited(edit);
    EXPECT_TRUE(st.IsCorruption()) << what << ": " << st.ToString();
  };
  expect_corruption("magic", [](RecoveryImageHeader& h, auto&) { h.magic ^= 1; });
  expect_corruption("version", [](RecoveryImageHeader& h, auto&) { h.version = 99; });
  expect_corruption("region count", [](RecoveryImageHeader& h, auto&) { h.region_count = kMaxImageRegions + 1; });
  expect_corruption("unaligned region", [](RecoveryImageHeader& h, auto&) { h.regions[1].file_offset += 8; });
  expect_corruption("region past the end", [](RecoveryImageHeader& h, auto&) { h.regions[2].stored += kPageSize; });
  expect_corruption("offset overflow", [](RecoveryImageHeader& h, auto&) { h.regions[2].file_offset = ~0ull << 12; });
  expect_corruption("stored beyond size", [](RecoveryImageHeader& h, auto&) { h.regions[1].size = 1; });
  expect_corruption("no meta region", [](RecoveryImageHeader& h, auto&) { h.regions[0].id = 30; });
}

TEST_F(RecoveryImageTest, TheMetaHeaderIsCheckedOnOpen) {
  WriteValidImage();
  const std::vector<uint8_t> valid = ReadFile();
  auto open_with = [&](auto edit) {
    WriteFile(valid);
    return OpenWithMeta(edit);
  };
  EXPECT_EQ(open_with([](MetaHeader& m) { m.magic = 0; }).code(), Status::Code::kFailedPrecondition);
  EXPECT_TRUE(open_with([](MetaHeader& m) { m.magic ^= 0x100; }).IsCorruption());
  EXPECT_EQ(open_with([](MetaHeader& m) { m.version = kMetaVersion + 1; }).code(),
            Status::Code::kFailedPrecondition);
  EXPECT_TRUE(open_with([](MetaHeader& m) { m.slots_offset = 8; }).IsCorruption());
  EXPECT_TRUE(open_with([](MetaHeader& m) { m.max_threads = 0; }).IsCorruption());
  const Status too_many = open_with([](MetaHeader& m) { m.max_threads = 1u << 30; });
  EXPECT_TRUE(too_many.IsCorruption()) << too_many.ToString();
  EXPECT_NE(too_many.message().find("thread slots"), std::string::npos) << too_many.ToString();
}

TEST_F(RecoveryImageTest, CheckResumableRefusesWhatARestoreCouldNotUse) {
  WriteValidImage();
  const std::vector<uint8_t> valid = ReadFile();
  auto resumable_with = [&](auto edit) {
    WriteFile(valid);
    EXPECT_TRUE(OpenWithMeta([](MetaHeader&) {}).ok());
    std::vector<uint8_t> file = ReadFile();
    RecoveryImageHeader h;
    std::memcpy(&h, file.data(), sizeof h);
    uint8_t* meta = file.data() + h.regions[0].file_offset;
    edit(*reinterpret_cast<MetaHeader*>(meta), reinterpret_cast<ThreadSlot*>(meta + MetaSlotsOffset()));
    WriteFile(file);
    auto img = RecoveryImage::Open(path_);
    EXPECT_TRUE(img.ok()) << img.status().ToString();
    return img.ok() ? img->CheckResumable("test image") : img.status();
  };
  EXPECT_EQ(resumable_with([](MetaHeader& m, ThreadSlot*) { m.exited = kMetaExitedMark; }).code(),
            Status::Code::kFailedPrecondition);
  EXPECT_TRUE(resumable_with([](MetaHeader&, ThreadSlot* s) { s[1].stack_lo -= kStackSize; }).IsCorruption());
  EXPECT_TRUE(resumable_with([](MetaHeader&, ThreadSlot* s) { s[0].fctx = s[0].stack_hi; }).IsCorruption());
  EXPECT_TRUE(resumable_with([](MetaHeader&, ThreadSlot* s) { s[0].tls_addr = s[0].stack_hi - 8; }).IsCorruption());
  EXPECT_TRUE(resumable_with([](MetaHeader&, ThreadSlot* s) { s[1].state = kSlotRunning; }).IsCorruption());
  EXPECT_TRUE(resumable_with([](MetaHeader& m, ThreadSlot*) { m.stack_size *= 2; }).IsCorruption());
  EXPECT_EQ(resumable_with([](MetaHeader&, ThreadSlot* s) { s[0].state = s[1].state = kSlotExited; }).code(),
            Status::Code::kFailedPrecondition);
}

// LiveThreadsInMeta on a meta region as respct-recover's fetch holds it (a
// buffer read off the memnode, not a file).
TEST(LiveThreadsInMeta, CountsSlotsNeitherFreeNorExited) {
  const std::vector<uint8_t> meta = MetaBytes(TestLayout());
  auto n = LiveThreadsInMeta(meta.data(), meta.size());
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(*n, 2u);
}

TEST(LiveThreadsInMeta, MoreSlotsThanTheRegionHoldsIsCorruption) {
  std::vector<uint8_t> meta = MetaBytes(TestLayout());
  reinterpret_cast<MetaHeader*>(meta.data())->max_threads = 1000;
  auto n = LiveThreadsInMeta(meta.data(), meta.size());
  ASSERT_FALSE(n.ok());
  EXPECT_TRUE(n.status().IsCorruption()) << n.status().ToString();
  EXPECT_NE(n.status().message().find("1000 thread slots"), std::string::npos) << n.status().ToString();
}

TEST(LiveThreadsInMeta, ARegionShorterThanItsHeaderIsCorruption) {
  const std::vector<uint8_t> meta(16);
  auto n = LiveThreadsInMeta(meta.data(), meta.size());
  ASSERT_FALSE(n.ok());
  EXPECT_TRUE(n.status().IsCorruption()) << n.status().ToString();
}

}  // namespace
}  // namespace respct::core
