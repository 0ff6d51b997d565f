// LiveThreadsInMeta (tools/launch/image_fetch.h): the thread slots of an
// image's meta region, counted only within the region — a meta header that
// claims more slots than its region holds is a corrupt image, not a read past
// the end of the buffer (issue 16: the fetch walked max_threads slots
// unchecked).
#include <cstring>
#include <vector>

#include <gtest/gtest.h>

#include "runtime/core/meta_region.h"
#include "runtime/core/thread_table.h"
#include "tools/launch/image_fetch.h"

namespace respct::launch {
namespace {

std::vector<uint8_t> Meta(uint32_t max_threads, const std::vector<core::SlotState>& states) {
  std::vector<uint8_t> meta(core::MetaSlotsOffset() + sizeof(core::ThreadSlot) * states.size());
  core::MetaHeader h{};
  h.magic = core::kMetaMagic;
  h.max_threads = max_threads;
  std::memcpy(meta.data(), &h, sizeof h);
  for (size_t i = 0; i < states.size(); ++i) {
    core::ThreadSlot s{};
    s.state = states[i];
    std::memcpy(meta.data() + core::MetaSlotsOffset() + i * sizeof s, &s, sizeof s);
  }
  return meta;
}

TEST(LiveThreadsInMeta, CountsSlotsNeitherFreeNorExited) {
  const auto meta = Meta(4, {core::kSlotParked, core::kSlotExited, core::kSlotBlocked, core::kSlotFree});
  auto n = LiveThreadsInMeta(meta.data(), meta.size());
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(*n, 2u);
}

TEST(LiveThreadsInMeta, MoreSlotsThanTheRegionHoldsIsCorruption) {
  const auto meta = Meta(1000, {core::kSlotParked, core::kSlotParked});
  auto n = LiveThreadsInMeta(meta.data(), meta.size());
  ASSERT_FALSE(n.ok());
  EXPECT_TRUE(n.status().IsCorruption()) << n.status().ToString();
  EXPECT_NE(n.status().message().find("1000 thread slots"), std::string::npos) << n.status().ToString();
}

TEST(LiveThreadsInMeta, ARegionShorterThanItsHeaderIsCorruption) {
  const std::vector<uint8_t> meta(16);
  EXPECT_FALSE(LiveThreadsInMeta(meta.data(), meta.size()).ok());
}

}  // namespace
}  // namespace respct::launch
