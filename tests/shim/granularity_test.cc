// --granularity full (RESPCT_GRANULARITY=full): every epoch ships every
// tracked page, written or not. bank touches a few account lines per epoch,
// so line granularity ships little while full granularity must ship at least
// every page it wrote and everything ever tracked, which only grows. Checked
// from the per-epoch timeline of the JSON stats.
#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/shim/shim_test_util.h"

namespace respct::shimtest {
namespace {

struct EpochBytes {
  uint64_t by_pages = 0;  // pages the program wrote, × 4096
  uint64_t shipped = 0;
};

// The timeline's epochs, in order, from `--stats=json` output.
std::vector<EpochBytes> Timeline(const std::string& json) {
  std::vector<EpochBytes> epochs;
  const size_t start = json.find("\"timeline\":[");
  if (start == std::string::npos) return epochs;
  const std::string marker = "{\"epoch\":";
  for (size_t at = json.find(marker, start); at != std::string::npos;) {
    const size_t next = json.find(marker, at + 1);
    const std::string entry = json.substr(at, next == std::string::npos ? std::string::npos : next - at);
    epochs.push_back({JsonUint(entry, "bytes_by_pages").value_or(0), JsonUint(entry, "bytes_shipped").value_or(0)});
    at = next;
  }
  return epochs;
}

std::vector<EpochBytes> RunBank(const std::string& granularity, const TempDir& dir, test::MemnodeProcess& mn,
                                std::string* stats_out) {
  const std::string stats = dir / (granularity + ".json");
  const ChildResult r = RunChild(
      dir.path(), granularity,
      RespctRun(mn.shm_url(), mn.secret_path(), UniqueApp("gran-" + granularity),
                {"--heap-size", "64M", "--granularity", granularity, "--stats=json", "--stats-file", stats},
                {BANK_BIN, "--transfers", "1000000", "--work-ns", "1000"}));
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_TRUE(DigestLine("bank", r.out)) << r.Describe();
  *stats_out = ReadFile(stats);
  return Timeline(*stats_out);
}

TEST(Granularity, FullShipsEveryTrackedPageEachEpoch) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  test::MemnodeProcess mn(MemnodeOptions());
  ASSERT_TRUE(Started(mn));

  std::string full_json, line_json;
  const std::vector<EpochBytes> full = RunBank("full", dir, mn, &full_json);
  ASSERT_GE(full.size(), 3u) << full_json;
  EXPECT_NE(full_json.find("\"granularity\":\"full\""), std::string::npos) << full_json;
  uint64_t full_total = 0, idle_epochs = 0;
  for (size_t i = 0; i < full.size(); ++i) {
    SCOPED_TRACE("full epoch #" + std::to_string(i));
    EXPECT_GE(full[i].shipped, full[i].by_pages) << "a written page was not shipped";
    EXPECT_GT(full[i].shipped, 0u) << "an epoch of a full image shipped nothing";
    EXPECT_EQ(full[i].shipped % 4096, 0u) << "full granularity ships whole pages";
    if (i > 0) {
      EXPECT_GE(full[i].shipped, full[i - 1].shipped) << "shipped less than was tracked before";
    }
    if (full[i].shipped > 0 && full[i].shipped >= 4 * full[i].by_pages) ++idle_epochs;
    full_total += full[i].shipped;
  }
  EXPECT_GE(idle_epochs, 1u) << "no epoch shipped pages the program did not write: not a full image";

  const std::vector<EpochBytes> line = RunBank("line", dir, mn, &line_json);
  ASSERT_GE(line.size(), 3u) << line_json;
  uint64_t line_total = 0;
  for (const EpochBytes& e : line) line_total += e.shipped;
  // Shipping changed lines must cost less than whole images of the same run.
  EXPECT_LT(line_total * 2, full_total) << "line " << line_total << " bytes vs full " << full_total;
}

}  // namespace
}  // namespace respct::shimtest
