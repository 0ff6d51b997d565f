#include "memnode/size_flag.h"

#include <gtest/gtest.h>

namespace respct::memnode {
namespace {

TEST(SizeFlagTest, Parses) {
  EXPECT_EQ(ParseSize("4096").value(), 4096u);
  EXPECT_EQ(ParseSize("512M").value(), 512ull << 20);
  EXPECT_EQ(ParseSize("4G").value(), 4ull << 30);
  EXPECT_EQ(ParseSize("64MiB").value(), 64ull << 20);
  EXPECT_EQ(ParseSize("2kb").value(), 2048u);
  EXPECT_EQ(ParseSize("1T").value(), 1ull << 40);
  EXPECT_EQ(ParseSize("100B").value(), 100u);
}

TEST(SizeFlagTest, Rejects) {
  for (const char* bad : {"", "M", "-1", "1.5G", "4X", "4GG", "99999999999T", " 4G"})
    EXPECT_FALSE(ParseSize(bad).ok()) << bad;
}

}  // namespace
}  // namespace respct::memnode
