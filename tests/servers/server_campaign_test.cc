// The crash campaign of the servers (tools/crash-campaign --servers runs it
// at scale): memcached or redis-server under respct-run on a memnode of the
// test's own, client threads setting keys, kill -9 at a random instant
// (uniform in [MIN_MS, MAX_MS] after each (re)started server listens), and the restart is
// `respct-run --resume` — what a supervisor runs. Every kill is classified:
//   resumed  --resume said it resumes, the server listened again and holds
//            every key acknowledged before the resumed epoch and every key
//            an earlier recovery found, with their values, nothing unsent,
//            and its own count (curr_items / DBSIZE) agrees
//            (server_harness.h says why that check is sound);
//   cold     killed before the app's first committed epoch: --resume says it
//            starts fresh, and the fresh server holds nothing of ours;
//   failed   anything else: the restarted process died by a signal or
//            exited, did not listen within 60 s, a check failed or timed
//            out, or --resume said neither. Its logs are kept in
//            $RESPCT_CRASH_LOG_DIR (else /tmp/respct-server-campaign-<pid>)
//            and the campaign goes on from a fresh start.
// The three columns add up to the kills. One result line for the script:
//   server-campaign: server=S transport=T seed=N kills=.. resumed=.. cold=.. failed=.. ...
// Knobs (environment): RESPCT_SERVER_KILLS (default 12 per case),
// RESPCT_SERVER_MIN_MS / _MAX_MS (20 / 700), RESPCT_SERVER_SEED (random),
// RESPCT_SERVER_SEGMENT (25: a clean stop, SIGTERM, after every 25 kills,
// whose --resume must start fresh; not a kill, not in the columns).
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tests/servers/server_client.h"
#include "tests/servers/server_harness.h"

namespace respct::servertest {
namespace {

using shimtest::Child;
using shimtest::ChildResult;
using shimtest::ReadFile;
using shimtest::TempDir;

long EnvLong(const char* name, long fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::strtol(v, nullptr, 10) : fallback;
}

using Param = ServerCase;

class ServerCampaign : public testing::TestWithParam<Param> {};

TEST_P(ServerCampaign, KillsAtRandomInstantsUnderLoad) {
  const ServerKind kind = GetParam().server;
  const std::string binary = ServerBinary(kind);
  if (binary.empty()) GTEST_SKIP() << ServerName(kind) << " is not installed (tools/install-deps.sh installs it)";
  const long kills = EnvLong("RESPCT_SERVER_KILLS", 12);
  const long min_ms = EnvLong("RESPCT_SERVER_MIN_MS", 20), max_ms = EnvLong("RESPCT_SERVER_MAX_MS", 700);
  const unsigned seed = static_cast<unsigned>(EnvLong("RESPCT_SERVER_SEED", std::random_device{}()));
  ASSERT_GE(kills, 1);
  ASSERT_LE(min_ms, max_ms);
  std::mt19937 rng(seed);
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  TestMemnode mn(GetParam().memnode, dir.path());
  ASSERT_TRUE(mn.Start());
  const uint16_t port = test::FreeLoopbackPort();
  const std::string app = shimtest::UniqueApp(ServerName(kind));
  const std::vector<std::string> server = ServerArgv(kind, binary, port);
  const char* log_env = std::getenv("RESPCT_CRASH_LOG_DIR");
  const std::string log_dir = (log_env != nullptr && *log_env != '\0' ? std::string(log_env)
                                                                       : "/tmp/respct-server-campaign-" +
                                                                             std::to_string(getpid())) +
                              "/" + ServerName(kind) + "-" + MemnodeName(GetParam().memnode);

  long resumed_n = 0, cold_n = 0, failed_n = 0;
  double recovery_ms_sum = 0, recovery_ms_max = 0;
  size_t required_total = 0;
  std::vector<std::string> failures, stop_failures;
  bool image_finished = false;  // the app's image is a clean stop's, no epoch committed since
  const long segment = std::max(1L, EnvLong("RESPCT_SERVER_SEGMENT", 25));
  std::vector<KeyRecord> kept;  // keys a recovery found: every later image keeps them
  int run_no = 0;
  std::unique_ptr<Child> proc;
  std::unique_ptr<EpochSampler> sampler;
  auto start = [&](const std::vector<std::string>& extra) {
    ++run_no;
    proc = std::make_unique<Child>(dir.path(), "run" + std::to_string(run_no), mn.RunArgv(app, extra, server),
                                   mn.ChildEnv(600));
  };
  auto keep_logs = [&](const std::string& why) {
    std::error_code ec;
    std::filesystem::create_directories(log_dir, ec);
    for (const auto& f : std::filesystem::directory_iterator(dir.path(), ec))
      if (f.is_regular_file()) std::filesystem::copy_file(f.path(), log_dir + "/" + f.path().filename().string(),
                                                          std::filesystem::copy_options::overwrite_existing, ec);
    shimtest::WriteFile(log_dir + "/memnode.tail", mn.LogTail());
    failures.push_back("run " + std::to_string(run_no) + ": " + why);
    ++failed_n;
  };

  start({"--fresh"});
  for (long k = 1; k <= kills; ++k) {
    if (sampler == nullptr && mn.WaitReady()) sampler = std::make_unique<EpochSampler>(mn.url(), mn.secret(), app);
    ASSERT_NE(sampler, nullptr) << mn.LogTail();
    // Kills land once the server listens (a restarted one already does): this
    // campaign is about a serving server. (memcached resumed from its epoch 1
    // once never listened, seed 3334365958: its main thread was parked inside
    // setgid, which is no longer a restart point, MemoryTest.
    // ThreadsCallingSetgidSurviveTwoKills; an image taken while a thread is
    // being created is still a known gap, issue 13's note.)
    const auto listen_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    std::unique_ptr<Load> load;
    while (load == nullptr && std::chrono::steady_clock::now() < listen_deadline && !proc->Exited()) {
      TcpConn probe;
      if (probe.Connect(port, 200)) {
        probe.Close();
        load = std::make_unique<Load>(kind, port, "k" + std::to_string(k) + "-", 4);
      } else {
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      }
    }
    const auto kill_at = std::chrono::steady_clock::now() +
                         std::chrono::milliseconds(std::uniform_int_distribution<long>(min_ms, max_ms)(rng));
    while (std::chrono::steady_clock::now() < kill_at) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    proc->Signal(SIGKILL);
    const int64_t kill_ns = NowNs();
    const ChildResult killed = proc->Wait();
    if (load != nullptr) load->Stop();
    const std::vector<KeyRecord> records = load != nullptr ? load->Records() : std::vector<KeyRecord>{};
    const std::vector<std::string> never_sent = load != nullptr ? load->NeverSent() : std::vector<std::string>{};
    if (killed.signal != SIGKILL) {
      keep_logs("the server was not running at its kill: " + killed.Describe());
      kept.clear();
      start({"--fresh"});
      continue;
    }

    // The supervisor's restart.
    const auto restart = std::chrono::steady_clock::now();
    start({"--resume"});
    const std::string tag = "run" + std::to_string(run_no);
    bool listening = false;
    const auto deadline = restart + std::chrono::seconds(60);
    while (!listening && std::chrono::steady_clock::now() < deadline && !proc->Exited()) {
      TcpConn probe;
      listening = probe.Connect(port, 200);
      if (!listening) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    const double recovery_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - restart).count();
    const std::string err = ReadFile(dir / (tag + ".err"));
    const uint64_t epoch = ResumedEpoch(err);
    const bool fresh = err.find("starting app '" + app + "' fresh") != std::string::npos;
    if (!listening) {
      const bool exited = proc->Exited();
      const ChildResult r = exited ? proc->Wait() : ChildResult{};
      keep_logs(exited ? "the restarted server ended: " + r.Describe() : "the restarted server did not listen in 60 s");
      proc.reset();
      kept.clear();
      start({"--fresh"});
      continue;
    }
    if (epoch == 0 && !fresh) {
      keep_logs("--resume said neither 'resuming' nor 'fresh': " + shimtest::Tail(err));
      proc->Kill();
      kept.clear();
      start({"--fresh"});
      continue;
    }
    // Cold only when the memnode had no committed epoch of the app after the kill.
    std::optional<uint64_t> committed_after_kill;
    for (int i = 0; i < 500 && !committed_after_kill; ++i) {
      committed_after_kill = sampler->FirstAtOrAfter(kill_ns);
      if (!committed_after_kill) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    // (Or the image is still the one a clean stop finished, when the new run
    // died before committing its first epoch: that image is not resumed.)
    const bool finished_image = image_finished && err.find("fresh: its last run exited") != std::string::npos;
    if (fresh && committed_after_kill.value_or(0) != 0 && !finished_image) {
      keep_logs("--resume started fresh although epoch " + std::to_string(*committed_after_kill) +
                " was committed: " + shimtest::Tail(err));
      proc->Kill();
      kept.clear();
      start({"--fresh"});
      continue;
    }
    // Resumed: every acknowledged key of this round (output commit) and every key found before.
    // Cold: nothing is required, and whatever is found must be right (none expected).
    VerifyResult v = Verify(kind, port, records, never_sent, *sampler, fresh ? 0 : epoch, true,
                            fresh ? std::vector<KeyRecord>{} : kept);
    if (fresh && v.present != 0) v.error += (v.error.empty() ? "" : "; ") + std::string("a fresh start holds keys");
    if (!v.ok() || !Answers(kind, port)) {
      keep_logs("kill " + std::to_string(k) + (fresh ? " (cold)" : " (resumed at epoch " + std::to_string(epoch) + ")") +
                ": " + v.Describe());
      proc->Kill();
      kept.clear();
      start({"--fresh"});
      continue;
    }
    if (proc->Exited()) {
      keep_logs("the restarted server died after answering: " + proc->Wait().Describe());
      proc.reset();
      kept.clear();
      start({"--fresh"});
      continue;
    }
    if (fresh) {
      ++cold_n;
      kept.clear();
    } else {
      ++resumed_n;
      image_finished = false;
      recovery_ms_sum += recovery_ms;
      recovery_ms_max = std::max(recovery_ms_max, recovery_ms);
      required_total += v.required;
      const std::vector<KeyRecord> found = PresentKeys(kind, port, records);
      kept.insert(kept.end(), found.begin(), found.end());
    }
    // Every SEGMENT kills a clean stop (SIGTERM: memcached and redis exit 0)
    // and a --resume that must start fresh: the finished run's image is not
    // resumed. It also bounds the keys every check reads back.
    if (k % segment == 0 && k < kills) {
      proc->Signal(SIGTERM);
      const ChildResult stopped = proc->Wait();
      start({"--resume"});
      const std::string t = "run" + std::to_string(run_no);
      const bool up = WaitForListener(port, 60000);
      const std::string e = ReadFile(dir / (t + ".err"));
      if (stopped.exit_code != 0 || !up || e.find("fresh: its last run exited") == std::string::npos) {
        stop_failures.push_back("after kill " + std::to_string(k) + ": clean stop " + stopped.Describe() +
                                "\nthen --resume: " + shimtest::Tail(e));
        proc->Kill();
        start({"--fresh"});
      }
      kept.clear();
      image_finished = true;
    }
  }
  if (proc != nullptr) {
    proc->Signal(SIGTERM);
    proc->Wait();
  }
  std::ostringstream line;
  line << "server-campaign: server=" << ServerName(kind) << " transport=" << MemnodeName(GetParam().memnode)
       << " seed=" << seed << " kills=" << kills << " resumed=" << resumed_n << " cold=" << cold_n
       << " failed=" << failed_n << " recovery_ms_mean=" << (resumed_n != 0 ? recovery_ms_sum / resumed_n : 0)
       << " recovery_ms_max=" << recovery_ms_max << " keys_required=" << required_total;
  std::cout << line.str() << "\n";
  for (const std::string& f : failures) std::cout << "  FAILED " << f << "\n";
  if (failed_n != 0) std::cout << "  logs kept in " << log_dir << "\n";
  EXPECT_EQ(resumed_n + cold_n + failed_n, kills);
  for (const std::string& f : stop_failures) ADD_FAILURE() << f;
  EXPECT_EQ(failed_n, 0) << "seed " << seed << "; logs in " << log_dir;
}

INSTANTIATE_TEST_SUITE_P(Matrix, ServerCampaign, AllServerCases(), ServerCaseName);

}  // namespace
}  // namespace respct::servertest
