// Recovery of unmodified programs: kill -9 under respct-run, respct-recover,
// and the program finishes as if nothing happened — including what only a
// faithful restore of each thread's context gives: stack-protector canaries
// (recovery_prog is built with -fstack-protector-all), a jmp_buf kept across
// checkpoints (pointer guard), errno and __thread variables. The recovered
// process keeps checkpointing to the same image, so it is killed and
// recovered a second time.
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tests/shim/shim_test_util.h"

namespace respct::shimtest {
namespace {

class RecoveryTest : public testing::TestWithParam<const char*> {};

TEST_P(RecoveryTest, RecoveryProgSurvivesTwoKills) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  test::MemnodeProcess mn(MemnodeOptions());
  ASSERT_TRUE(Started(mn));
  const std::string url = std::string(GetParam()) == "shm" ? mn.shm_url() : mn.tcp_url();
  const std::string app = UniqueApp("recov");
  // Long enough (about 2 s natively) that neither run ends before its kill.
  const std::vector<std::string> prog = {RECOVERY_PROG, "3", "40000000"};

  // First run, killed once it has committed a few epochs.
  Child first(dir.path(), "first", RespctRun(url, mn.secret_path(), app, {}, prog));
  const uint64_t e1 = WaitForEpochBeyond(mn, app, 0);
  first.Signal(SIGKILL);
  const ChildResult r1 = first.Wait();
  ASSERT_EQ(r1.signal, SIGKILL) << "the program ended before it could be killed: " << r1.Describe();
  ASSERT_GT(e1, 2u) << mn.LogTail();

  // Recovered, then killed again once the recovered process committed epochs of its own.
  const uint64_t recovered_at = CommittedEpoch(mn, app);
  Child second(dir.path(), "second", RespctRecover(mn, url, app, prog));
  const uint64_t e2 = WaitForEpochBeyond(mn, app, recovered_at);
  // And until it printed progress of its own (every 100 ms), to check below.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (FirstProgress(ReadFile(dir / "second.out")) < 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  second.Signal(SIGKILL);
  const ChildResult r2 = second.Wait();
  ASSERT_EQ(r2.signal, SIGKILL) << "the recovered program ended before it could be killed: " << r2.Describe();
  EXPECT_GT(e2, recovered_at) << "the recovered process did not keep checkpointing" << r2.Describe();
  EXPECT_NE(r2.err.find("resuming app"), std::string::npos) << r2.Describe();

  // Recovered to the end.
  const ChildResult r3 = RunChild(dir.path(), "third", RespctRecover(mn, url, app, prog));
  ASSERT_EQ(r3.exit_code, 0) << r3.Describe();
  EXPECT_NE(r3.out.find("recovery_prog: total=120000000 ok"), std::string::npos) << r3.Describe();
  // The recovered runs print their first progress 100 ms after resuming, from
  // the restored count (the crash campaigns in tests/crash check progress
  // against the image itself).
  EXPECT_GT(FirstProgress(r2.out), 0) << r2.Describe();
  EXPECT_GT(FirstProgress(r3.out), 0) << r3.Describe();
}

INSTANTIATE_TEST_SUITE_P(Transports, RecoveryTest, testing::Values("shm", "tcp"),
                         [](const testing::TestParamInfo<const char*>& i) { return std::string(i.param); });

TEST(RecoveryErrors, UnknownAppIsRefusedWithItsName) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  test::MemnodeProcess mn(MemnodeOptions());
  ASSERT_TRUE(Started(mn));
  const ChildResult r =
      RunChild(dir.path(), "recover", RespctRecover(mn, mn.tcp_url(), "never-ran", {RECOVERY_PROG, "1", "10"}));
  EXPECT_EQ(r.exit_code, 70) << r.Describe();
  EXPECT_NE(r.err.find("'never-ran'"), std::string::npos) << r.Describe();
  EXPECT_EQ(r.out.find("recovery_prog:"), std::string::npos) << "the program ran" << r.Describe();
}

TEST(RecoveryKernelObjects, OpenFileAndSignalHandlerAreRestored) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  test::MemnodeProcess mn(MemnodeOptions());
  ASSERT_TRUE(Started(mn));
  const std::string app = UniqueApp("hold");
  const std::vector<std::string> prog = {RECOVERY_PROG, "2", "100000000", "hold"};
  Child run(dir.path(), "run", RespctRun(mn.tcp_url(), mn.secret_path(), app, {}, prog));
  WaitForEpochBeyond(mn, app, 20);
  run.Signal(SIGKILL);
  const ChildResult killed = run.Wait();
  ASSERT_EQ(killed.signal, SIGKILL) << killed.Describe();
  const ChildResult r = RunChild(dir.path(), "recover", RespctRecover(mn, mn.tcp_url(), app, prog));
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  // The shim says what it recreated: the file recovery_prog keeps open and
  // its SIGUSR1 handler.
  EXPECT_NE(r.err.find("restored 1 fd: 1 file; 1 signal handler"), std::string::npos) << r.Describe();
}

TEST(RecoveryErrors, FinishedProgramHasNothingToResume) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  test::MemnodeProcess mn(MemnodeOptions());
  ASSERT_TRUE(Started(mn));
  const std::string app = UniqueApp("done");
  const std::vector<std::string> prog = {RECOVERY_PROG, "2", "1000"};
  const ChildResult run = RunChild(dir.path(), "run", RespctRun(mn.tcp_url(), mn.secret_path(), app, {}, prog));
  ASSERT_EQ(run.exit_code, 0) << run.Describe();
  const ChildResult r = RunChild(dir.path(), "recover", RespctRecover(mn, mn.tcp_url(), app, prog));
  EXPECT_EQ(r.exit_code, 70) << r.Describe();
  EXPECT_NE(r.err.find("the program had exited"), std::string::npos) << r.Describe();
}

}  // namespace
}  // namespace respct::shimtest
