// Output commit (runtime/core/held_output.h): a reply reaches the client
// only once the state that produced it is committed, so a crash right after a
// reply never takes it back. pause_server hands out counts (each reply is the
// number of requests served so far, like a ticket or id service): a client
// takes one, the server is killed -9 at once, recovered, and the next count
// must be higher than every count handed out before the kill. With output
// commit off the same cycle hands out a count twice (the reply left before
// its epoch was committed), which shows the test can fail.
#include <signal.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tests/shim/count_client.h"
#include "tests/shim/shim_test_util.h"

namespace respct::shimtest {
namespace {

struct Cycles {
  int duplicates = 0;  // cycles whose count after the recovery was not higher
  std::string log;
};

// `cycles` times: one count taken, kill -9 right after it arrived, recover,
// one count taken from the recovered server. Returns what it saw.
Cycles KillRightAfterEachReply(const std::string& output_commit, int cycles, const std::string& stats_file) {
  Cycles seen;
  TempDir dir;
  EXPECT_FALSE(dir.path().empty());
  test::MemnodeProcess mn(MemnodeOptions());
  EXPECT_TRUE(Started(mn));
  const std::string app = UniqueApp("tickets-" + output_commit);
  const std::string url = mn.shm_url();
  const std::vector<std::string> prog = {PAUSE_SERVER, dir / "port", "2"};
  const std::vector<std::string> flags = {"--output-commit", output_commit};
  auto child = std::make_unique<Child>(dir.path(), "run", RespctRun(url, mn.secret_path(), app, flags, prog));
  const uint16_t port = WaitForPort(dir / "port");
  EXPECT_NE(port, 0) << child->Wait().Describe();
  if (port == 0) return seen;
  // A committed epoch of the listening server, so every kill below recovers.
  WaitForEpochBeyond(mn, app, CommittedEpoch(mn, app));
  long handed_out = 0;
  for (int c = 0; c < cycles; ++c) {
    long got = -1;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (got < 0 && std::chrono::steady_clock::now() < deadline) {
      CountClient client(port);
      if (client.ok()) got = client.Request();
      if (got < 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    EXPECT_GT(got, 0) << "cycle " << c << ": no answer within 30 s";
    if (got <= 0) return seen;
    seen.log += " " + std::to_string(got);
    if (got <= handed_out) ++seen.duplicates;
    handed_out = std::max(handed_out, got);
    if (c + 1 == cycles) break;
    child->Kill();
    child->Wait();
    std::vector<std::string> recover = {RESPCT_RECOVER_BIN, "--memnode", url, "--secret-file", mn.secret_path(),
                                        "--app", app, "--output-commit", output_commit};
    if (!stats_file.empty()) {
      recover.push_back("--stats=json");
      recover.push_back("--stats-file");
      recover.push_back(stats_file);
    }
    recover.push_back("--");
    recover.insert(recover.end(), prog.begin(), prog.end());
    child = std::make_unique<Child>(dir.path(), "recover" + std::to_string(c), recover);
  }
  child->Signal(SIGTERM);
  const ChildResult r = child->Wait();
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  return seen;
}

TEST(OutputCommit, NoCountIsHandedOutTwiceAcrossKills) {
  TempDir stats_dir;
  const std::string stats = stats_dir / "stats.json";
  const Cycles c = KillRightAfterEachReply("on", 6, stats);
  RecordProperty("counts", c.log);
  EXPECT_EQ(c.duplicates, 0) << "a count handed out before a kill was handed out again:" << c.log;
  // The last (recovered) run held its replies and asked for epochs early.
  const std::string json = ReadFile(stats);
  const auto held = JsonUint(json, "calls_held");
  const auto early = JsonUint(json, "early_epochs");
  ASSERT_TRUE(held && early) << json.substr(0, 600);
  EXPECT_GE(*held, 1u) << json.substr(0, 600);
  EXPECT_GE(*early, 1u) << json.substr(0, 600);
}

TEST(OutputCommit, OffHandsOutCountsACrashForgets) {
  const Cycles c = KillRightAfterEachReply("off", 6, "");
  RecordProperty("counts", c.log);
  EXPECT_GE(c.duplicates, 1) << "without output commit every reply's state was committed before its kill; the "
                                "test above would pass without the hold:"
                             << c.log;
}

}  // namespace
}  // namespace respct::shimtest
