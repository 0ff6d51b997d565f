// RuntimeStats and RunSummaryHeader (runtime/core/runtime_stats.h): the JSON
// report the benchmarks parse. It is written by hand (the shim writes it at
// exit, without a JSON library on its heap), so the tests check that it is
// well formed with names that need escaping, and that the numbers land in
// their fields.
#include <gtest/gtest.h>

#include <string>

#include "runtime/core/runtime_stats.h"

namespace respct::core {
namespace {

// Whether `s` nests its braces and brackets properly outside string
// literals, and every string literal is closed: enough to catch a field
// written unescaped or a missing separator of the structure.
bool BalancedJson(const std::string& s) {
  std::string open;
  bool in_string = false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
      else if (static_cast<unsigned char>(c) < 0x20) return false;
      continue;
    }
    if (c == '"') in_string = true;
    else if (c == '{' || c == '[') open += c;
    else if (c == '}' || c == ']') {
      if (open.empty() || open.back() != (c == '}' ? '{' : '[')) return false;
      open.pop_back();
    }
  }
  return !in_string && open.empty();
}

TEST(RuntimeStats, JsonReportIsWellFormedWithNamesThatNeedEscaping) {
  RuntimeStats stats(4);
  EpochSample s;
  s.epoch = 1;
  s.pause_ns = 2000;
  s.bytes_by_pages = 8192;
  s.bytes_shipped = 128;
  stats.RecordCommitted(stats.RecordCaptured(s), 100, 3000);
  RunSummary run;
  run.app = "we\"ird\\app\n";
  run.tracker = "uffd";
  run.granularity = "line";
  run.epoch_ms = 10;
  run.last_committed_epoch = 1;
  run.stalls_json = "[]";
  const std::string json = stats.Report(/*json=*/true, /*timeline=*/true, RunSummaryHeader(run, true));
  EXPECT_TRUE(BalancedJson(json)) << json;
  EXPECT_NE(json.find("\"app\":\"we\\\"ird\\\\app\\u000a\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"epochs_committed\":1"), std::string::npos) << json;
  EXPECT_NE(json.find("\"bytes_shipped\":128"), std::string::npos) << json;
  EXPECT_NE(json.find("\"timeline\":[{\"epoch\":1,"), std::string::npos) << json;
}

TEST(RuntimeStats, ReplicasAreReportedEachWithItsState) {
  RunSummary run;
  run.app = "bank";
  run.tracker = "uffd";
  run.granularity = "line";
  run.epoch_ms = 10;
  run.last_committed_epoch = 40;
  run.stalls_json = "[]";
  run.write_quorum = 2;
  run.replicas = {{"tcp://127.0.0.1:1", "in quorum", 40, 0, 0}, {"tcp://127.0.0.1:2", "down", 12, 1, 4096}};
  const std::string json = RuntimeStats(2).Report(true, false, RunSummaryHeader(run, true));
  EXPECT_TRUE(BalancedJson(json)) << json;
  EXPECT_NE(json.find("\"write_quorum\":2,\"replicas\":[{\"url\":\"tcp://127.0.0.1:1\",\"state\":\"in quorum\","
                      "\"committed_epoch\":40"),
            std::string::npos)
      << json;
  EXPECT_NE(json.find("\"state\":\"down\",\"committed_epoch\":12,\"catch_ups\":1,\"catch_up_bytes\":4096}]"),
            std::string::npos)
      << json;
  const std::string text = RunSummaryHeader(run, false);
  EXPECT_NE(text.find("replicas (an epoch commits on 2 of 2):"), std::string::npos) << text;
  EXPECT_NE(text.find("tcp://127.0.0.1:2: down, epoch 12, caught up 1 time(s), 4 KiB"), std::string::npos) << text;
  // One memnode: no replica lines.
  run.replicas.clear();
  EXPECT_EQ(RunSummaryHeader(run, true).find("replicas"), std::string::npos);
}

TEST(RuntimeStats, EpochsPastTheSampleCapacityStillCountInTheTotals) {
  RuntimeStats stats(2);
  for (uint64_t e = 1; e <= 5; ++e) {
    EpochSample s;
    s.epoch = e;
    s.bytes_shipped = 64;
    stats.RecordCommitted(stats.RecordCaptured(s), 1, 1);
  }
  const std::string json = stats.Report(true, true, "");
  EXPECT_TRUE(BalancedJson(json)) << json;
  EXPECT_NE(json.find("\"epochs_committed\":5"), std::string::npos) << json;
  EXPECT_NE(json.find("\"bytes_shipped\":320"), std::string::npos) << json;
  EXPECT_EQ(json.find("\"epoch\":3"), std::string::npos) << "only the first 2 epochs keep a sample: " << json;
}

}  // namespace
}  // namespace respct::core
