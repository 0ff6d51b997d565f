// LoadRuntimeConfig: the RESPCT_* variables, their defaults, and the errors
// that name the variable and the value a user got wrong.
#include "runtime/core/config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <string>
#include <utility>
#include <vector>

#include "runtime/transport/default_paths.h"

namespace respct::core {
namespace {

// Clears every RESPCT_* variable for the test and puts them back after.
class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (char** e = environ; *e != nullptr; ++e) {
      const std::string kv = *e;
      if (kv.rfind("RESPCT_", 0) == 0) saved_.emplace_back(kv.substr(0, kv.find('=')), kv.substr(kv.find('=') + 1));
    }
    for (const auto& [name, value] : saved_) unsetenv(name.c_str());
  }
  void TearDown() override {
    for (char** e = environ; *e != nullptr;) {
      const std::string kv = *e;
      if (kv.rfind("RESPCT_", 0) == 0) {
        unsetenv(kv.substr(0, kv.find('=')).c_str());  // environ shrank: look at the same index again
      } else {
        ++e;
      }
    }
    for (const auto& [name, value] : saved_) setenv(name.c_str(), value.c_str(), 1);
  }
  static void Set(const char* name, const char* value) { setenv(name, value, 1); }

  std::vector<std::pair<std::string, std::string>> saved_;
};

TEST_F(ConfigTest, DefaultsWithNothingSet) {
  auto c = LoadRuntimeConfig("/usr/local/bin/bank-server");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->app, "bank-server");
  EXPECT_EQ(c->memnode, DefaultMemnodeUrl());
  EXPECT_EQ(c->secret_file, DefaultSecretPath());
  EXPECT_EQ(c->epoch_ms, 10);
  EXPECT_EQ(c->quiesce_ms, 0);
  EXPECT_EQ(c->tracker, "auto");
  EXPECT_EQ(c->granularity, Granularity::kLine);
  EXPECT_TRUE(c->output_commit);
  EXPECT_EQ(c->stats, StatsFormat::kOff);
  EXPECT_FALSE(c->fresh);
  EXPECT_EQ(c->ring_size, 256ull << 20);
  EXPECT_EQ(c->layout.base, kDefaultBase);
  EXPECT_EQ(c->layout.heap_size, size_t{1} << 30);
  EXPECT_EQ(c->layout.stack_size, size_t{2} << 20);
  EXPECT_EQ(c->layout.max_threads, 64u);
  EXPECT_TRUE(c->recover_image.empty());
  EXPECT_EQ(c->test_delay_slot, -1);
  EXPECT_EQ(c->log_level, 1);
  EXPECT_FALSE(c->disabled);
}

TEST_F(ConfigTest, ReadsEveryVariable) {
  Set("RESPCT_MEMNODE", "tcp://10.0.0.2:7100");
  Set("RESPCT_APP", "bank.1");
  Set("RESPCT_SECRET_FILE", "/etc/respct/secret");
  Set("RESPCT_EPOCH_MS", "25");
  Set("RESPCT_QUIESCE_MS", "400");
  Set("RESPCT_TRACKER", "mprotect");
  Set("RESPCT_GRANULARITY", "page");
  Set("RESPCT_STATS", "json");
  Set("RESPCT_STATS_FILE", "/tmp/stats.json");
  Set("RESPCT_OUTPUT_COMMIT", "off");
  Set("RESPCT_FRESH", "1");
  Set("RESPCT_RING_SIZE", "1G");
  Set("RESPCT_BASE", "300000000000");
  Set("RESPCT_HEAP_SIZE", "64M");
  Set("RESPCT_STACK_SIZE", "128K");
  Set("RESPCT_MAX_THREADS", "8");
  Set("RESPCT_DUMP_DIR", "/tmp/dump");
  Set("RESPCT_RECOVER", "/tmp/image");
  Set("RESPCT_DROP_UNRESTORABLE", "1");
  Set("RESPCT_TEST_DELAY_SLOT", "3:250");
  Set("RESPCT_TEST_KILL_AT_EXIT", "1");
  Set("RESPCT_LOG", "debug");
  Set("RESPCT_DISABLE", "1");
  auto c = LoadRuntimeConfig("/bin/prog");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->memnode, "tcp://10.0.0.2:7100");
  EXPECT_EQ(c->app, "bank.1");
  EXPECT_EQ(c->secret_file, "/etc/respct/secret");
  EXPECT_EQ(c->epoch_ms, 25);
  EXPECT_EQ(c->quiesce_ms, 400);
  EXPECT_EQ(c->tracker, "mprotect");
  EXPECT_EQ(c->granularity, Granularity::kPage);
  EXPECT_EQ(c->stats, StatsFormat::kJson);
  EXPECT_EQ(c->stats_file, "/tmp/stats.json");
  EXPECT_FALSE(c->output_commit);
  EXPECT_TRUE(c->fresh);
  EXPECT_EQ(c->ring_size, 1ull << 30);
  EXPECT_EQ(c->layout.base, 0x300000000000u);
  EXPECT_EQ(c->layout.heap_size, size_t{64} << 20);
  EXPECT_EQ(c->layout.stack_size, size_t{128} << 10);
  EXPECT_EQ(c->layout.max_threads, 8u);
  EXPECT_EQ(c->dump_dir, "/tmp/dump");
  EXPECT_EQ(c->recover_image, "/tmp/image");
  EXPECT_TRUE(c->drop_unrestorable);
  EXPECT_EQ(c->test_delay_slot, 3);
  EXPECT_EQ(c->test_delay_ms, 250);
  EXPECT_TRUE(c->test_kill_at_exit);
  EXPECT_EQ(c->log_level, 3);
  EXPECT_TRUE(c->disabled);
}

TEST_F(ConfigTest, EmptyValueMeansUnsetAndFlagsWantExactlyOne) {
  Set("RESPCT_EPOCH_MS", "");
  Set("RESPCT_APP", "");
  Set("RESPCT_FRESH", "yes");
  Set("RESPCT_DISABLE", "true");
  auto c = LoadRuntimeConfig("prog");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->epoch_ms, 10);
  EXPECT_EQ(c->app, "prog");
  EXPECT_FALSE(c->fresh);
  EXPECT_FALSE(c->disabled);
}

TEST_F(ConfigTest, ShortSpellingsOfStatsAndOutputCommit) {
  Set("RESPCT_STATS", "1");
  Set("RESPCT_OUTPUT_COMMIT", "0");
  Set("RESPCT_GRANULARITY", "full");
  auto c = LoadRuntimeConfig("prog");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->stats, StatsFormat::kText);
  EXPECT_FALSE(c->output_commit);
  EXPECT_EQ(c->granularity, Granularity::kFull);
}

struct BadValue {
  const char* name;
  const char* value;
};

class ConfigErrorTest : public ConfigTest, public ::testing::WithParamInterface<BadValue> {};

// Each error is an InvalidArgument that names the variable and its value.
TEST_P(ConfigErrorTest, NamesTheVariableAndTheValue) {
  Set(GetParam().name, GetParam().value);
  auto c = LoadRuntimeConfig("prog");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(c.status().message().find(GetParam().name), std::string::npos) << c.status().message();
  EXPECT_NE(c.status().message().find(std::string("'") + GetParam().value + "'"), std::string::npos)
      << c.status().message();
}

INSTANTIATE_TEST_SUITE_P(
    Values, ConfigErrorTest,
    ::testing::Values(BadValue{"RESPCT_EPOCH_MS", "0"}, BadValue{"RESPCT_EPOCH_MS", "60001"},
                      BadValue{"RESPCT_EPOCH_MS", "10ms"}, BadValue{"RESPCT_EPOCH_MS", "abc"},
                      BadValue{"RESPCT_QUIESCE_MS", "-1"}, BadValue{"RESPCT_GRANULARITY", "bytes"},
                      BadValue{"RESPCT_STATS", "yes"}, BadValue{"RESPCT_OUTPUT_COMMIT", "maybe"},
                      BadValue{"RESPCT_BASE", "zz"}, BadValue{"RESPCT_BASE", "300000001000"},
                      BadValue{"RESPCT_BASE", "40000000"}, BadValue{"RESPCT_BASE", "7f0040000000"},
                      BadValue{"RESPCT_BASE", "7b0040000000"},
                      BadValue{"RESPCT_RING_SIZE", "8M"}, BadValue{"RESPCT_RING_SIZE", "17000000"},
                      BadValue{"RESPCT_RING_SIZE", "16Q"}, BadValue{"RESPCT_HEAP_SIZE", "1M"},
                      BadValue{"RESPCT_HEAP_SIZE", "lots"}, BadValue{"RESPCT_STACK_SIZE", "32K"},
                      BadValue{"RESPCT_MAX_THREADS", "1"}, BadValue{"RESPCT_MAX_THREADS", "1025"},
                      BadValue{"RESPCT_TEST_DELAY_SLOT", "3"}, BadValue{"RESPCT_TEST_DELAY_SLOT", "-1:5"},
                      BadValue{"RESPCT_TEST_DELAY_SLOT", "1:60001"},
                      BadValue{"RESPCT_TEST_DELAY_SLOT", "3:250ms"}, BadValue{"RESPCT_LOG", "verbose"}));

TEST_F(ConfigTest, BadAppNameIsRefused) {
  Set("RESPCT_APP", ".hidden");
  auto c = LoadRuntimeConfig("prog");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("RESPCT_APP"), std::string::npos) << c.status().message();
}

TEST_F(ConfigTest, StacksMustFitTheirRegion) {
  Set("RESPCT_MAX_THREADS", "1024");
  Set("RESPCT_STACK_SIZE", "2G");  // 2 TiB of stacks
  auto c = LoadRuntimeConfig("prog");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), Status::Code::kInvalidArgument);
  EXPECT_NE(c.status().message().find("RESPCT_MAX_THREADS"), std::string::npos) << c.status().message();
  Set("RESPCT_STACK_SIZE", "1G");  // exactly 1 TiB
  EXPECT_TRUE(LoadRuntimeConfig("prog").ok());
}

TEST_F(ConfigTest, RegionsFromTheHighestBaseEndInsideTheUserAddressSpace) {
  Set("RESPCT_BASE", "7b0000000000");
  auto c = LoadRuntimeConfig("prog");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  // The last region's TiB ends below the 47-bit limit of user addresses.
  EXPECT_LE(c->layout.kernel_base() + kRegionSpacing, uintptr_t{1} << 47);
}

uint64_t Size(const char* text) {
  auto r = ParseSize(text);
  EXPECT_TRUE(r.ok()) << text << ": " << r.status().ToString();
  return r.ok() ? r.value() : 0;
}

TEST(ParseSizeTest, SuffixesAndErrors) {
  EXPECT_EQ(Size("4096"), 4096u);
  EXPECT_EQ(Size("64K"), 64u << 10);
  EXPECT_EQ(Size("64KiB"), 64u << 10);
  EXPECT_EQ(Size("3g"), 3ull << 30);
  EXPECT_EQ(Size("2MiB"), 2u << 20);
  EXPECT_EQ(Size("1T"), 1ull << 40);
  EXPECT_FALSE(ParseSize("").ok());
  EXPECT_FALSE(ParseSize("K").ok());
  EXPECT_FALSE(ParseSize("12X").ok());
  EXPECT_FALSE(ParseSize("12 M").ok());
  EXPECT_FALSE(ParseSize("20000000T").ok());  // overflows 64 bits
}

}  // namespace
}  // namespace respct::core
