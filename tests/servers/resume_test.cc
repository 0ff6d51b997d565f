// respct-run --resume under a supervisor: what examples/systemd/
// respct-memcached.service does with Restart=always, as a bounded loop in the
// test (CI machines run no systemd). The loop re-runs
// `respct-run --resume -- memcached ...` whenever it ends. The first run
// starts fresh (no image); the test kills it with kill -9 twice, and each
// time the next run resumes it: every key acknowledged before the resumed
// epoch is there (server_harness.h). Then memcached is stopped with SIGTERM
// (a clean exit), and the next run starts fresh: the finished run's image is
// not resumed, the cache is empty.
#include <signal.h>

#include <atomic>
#include <chrono>
#include <iostream>
#include <memory>
#include <mutex>
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

// Runs `argv` again each time it ends, at most `max_runs` times; run i writes run<i>.out/.err.
class Supervisor {
 public:
  Supervisor(std::string dir, std::vector<std::string> argv, shimtest::ChildOptions options, int max_runs)
      : dir_(std::move(dir)), argv_(std::move(argv)), options_(std::move(options)), max_runs_(max_runs) {
    thread_ = std::thread([this] { Loop(); });
  }
  ~Supervisor() { Stop(); }
  void Stop() {
    stop_ = true;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (current_ != nullptr) current_->Signal(SIGKILL);
    }
    if (thread_.joinable()) thread_.join();
  }
  // Signals the current run; returns its number (0: none running).
  int Signal(int sig) {
    std::lock_guard<std::mutex> lock(mu_);
    if (current_ == nullptr) return 0;
    current_->Signal(sig);
    return runs_;
  }
  // Waits (bounded) until run `n` has started; false if it did not.
  bool WaitForRun(int n, int timeout_ms) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < deadline) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (runs_ >= n && current_ != nullptr) return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return false;
  }
  std::string Err(int n) const { return ReadFile(dir_ + "/run" + std::to_string(n) + ".err"); }
  std::vector<ChildResult> results() {
    std::lock_guard<std::mutex> lock(mu_);
    return results_;
  }

 private:
  void Loop() {
    while (!stop_) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (runs_ >= max_runs_) return;
        ++runs_;
        current_ = std::make_unique<Child>(dir_, "run" + std::to_string(runs_), argv_, options_);
      }
      // Poll, not Wait(): Signal() must reach the child meanwhile.
      for (;;) {
        {
          std::lock_guard<std::mutex> lock(mu_);
          if (current_->Exited()) {
            results_.push_back(current_->Wait());
            current_.reset();
            break;
          }
          if (stop_) current_->Signal(SIGKILL);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));  // RestartSec=100ms
    }
  }

  std::string dir_;
  std::vector<std::string> argv_;
  shimtest::ChildOptions options_;
  int max_runs_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::unique_ptr<Child> current_;
  int runs_ = 0;
  std::vector<ChildResult> results_;
  std::thread thread_;
};

class ResumeTest : public testing::TestWithParam<MemnodeKind> {};

TEST_P(ResumeTest, SupervisorLoopResumesMemcachedAfterEachKill) {
  const std::string binary = ServerBinary(ServerKind::kMemcached);
  if (binary.empty()) GTEST_SKIP() << "memcached is not installed (tools/install-deps.sh installs it)";
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  TestMemnode mn(GetParam(), dir.path());
  ASSERT_TRUE(mn.Start());
  const uint16_t port = test::FreeLoopbackPort();
  const std::string app = shimtest::UniqueApp("memcached");
  const std::vector<std::string> server = ServerArgv(ServerKind::kMemcached, binary, port);
  Supervisor sup(dir.path(), mn.RunArgv(app, {"--resume"}, server), mn.ChildEnv(120), 4);

  ASSERT_TRUE(sup.WaitForRun(1, 10000));
  ASSERT_TRUE(WaitForListener(port, 30000)) << sup.Err(1);
  EXPECT_NE(sup.Err(1).find("starting app '" + app + "' fresh: no image of it on the memnode"), std::string::npos)
      << sup.Err(1);
  ASSERT_TRUE(mn.WaitReady());
  EpochSampler sampler(mn.url(), mn.secret(), app);

  std::vector<KeyRecord> kept;
  uint64_t resumed = 0;
  for (int kill_no = 1; kill_no <= 2; ++kill_no) {
    SCOPED_TRACE("kill " + std::to_string(kill_no));
    Load load(ServerKind::kMemcached, port, "k" + std::to_string(kill_no) + "-", 4);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while ((load.acked() < 2000 || sampler.latest() <= resumed + 20) && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    ASSERT_GE(load.acked(), 2000u) << mn.LogTail();
    ASSERT_EQ(sup.Signal(SIGKILL), kill_no);
    load.Stop();
    // The supervisor's next run resumes it.
    const int next = kill_no + 1;
    ASSERT_TRUE(sup.WaitForRun(next, 10000));
    ASSERT_TRUE(WaitForListener(port, 60000)) << sup.Err(next);
    resumed = ResumedEpoch(sup.Err(next));
    ASSERT_GT(resumed, 0u) << "run " << next << " did not resume:\n" << sup.Err(next);
    const VerifyResult v =
        Verify(ServerKind::kMemcached, port, load.Records(), load.NeverSent(), sampler, resumed, true, kept);
    std::cout << "memcached --resume after kill " << kill_no << ": resumed epoch " << resumed << "; "
              << v.Describe() << "\n";
    EXPECT_TRUE(v.ok()) << v.Describe() << "\n" << shimtest::Tail(sup.Err(next));
    EXPECT_GT(v.required, 0u);
    EXPECT_TRUE(Answers(ServerKind::kMemcached, port));
    const std::vector<KeyRecord> found = PresentKeys(ServerKind::kMemcached, port, load.Records());
    kept.insert(kept.end(), found.begin(), found.end());
  }

  // A clean stop: the run exits, and the supervisor's next run starts fresh.
  ASSERT_EQ(sup.Signal(SIGTERM), 3);
  ASSERT_TRUE(sup.WaitForRun(4, 30000));
  ASSERT_TRUE(WaitForListener(port, 30000)) << sup.Err(4);
  EXPECT_NE(sup.Err(4).find("starting app '" + app + "' fresh: its last run exited"), std::string::npos)
      << sup.Err(4);
  MemcacheClient mc;
  ASSERT_TRUE(mc.Connect(port));
  const auto stats = mc.Stats();
  ASSERT_TRUE(stats.has_value());
  EXPECT_EQ(stats->at("curr_items"), "0") << "the fresh start kept the finished run's data";
  sup.Stop();
  const std::vector<ChildResult> runs = sup.results();
  ASSERT_EQ(runs.size(), 4u);
  EXPECT_EQ(runs[0].signal, SIGKILL) << runs[0].Describe();
  EXPECT_EQ(runs[1].signal, SIGKILL) << runs[1].Describe();
  EXPECT_EQ(runs[2].exit_code, 0) << "memcached did not exit cleanly on SIGTERM" << runs[2].Describe();
}

INSTANTIATE_TEST_SUITE_P(Memnodes, ResumeTest, testing::Values(MemnodeKind::kEmbeddedShm, MemnodeKind::kTcp),
                         [](const testing::TestParamInfo<MemnodeKind>& i) { return std::string(MemnodeName(i.param)); });

}  // namespace
}  // namespace respct::servertest
