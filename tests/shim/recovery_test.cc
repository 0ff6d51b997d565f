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
  // Long enough (about 2 s natively) that neither run ends before its kill.
  SurvivesTwoKills(GetParam(), "recov", {RECOVERY_PROG, "3", "40000000"}, "recovery_prog: total=120000000 ok");
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

// glibc's streams live in libc's data, which a recovery does not restore
// (runtime/kernel/stdio_streams.h): stdout's line buffering and the partial
// line in its buffer, and an fopen'ed stream only exit flushes, must come back.
TEST(RecoveryStdio, BufferingPendingBytesAndOpenStreamsComeBack) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  test::MemnodeProcess mn(MemnodeOptions());
  ASSERT_TRUE(Started(mn));
  const std::string app = UniqueApp("stdio");
  const std::vector<std::string> prog = {STDIO_PROG, dir.path()};
  Child run(dir.path(), "run", RespctRun(mn.tcp_url(), mn.secret_path(), app, {}, prog));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (ReadFile(dir / "run.err").find("stdio_prog: ready") == std::string::npos &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_NE(ReadFile(dir / "run.err").find("stdio_prog: ready"), std::string::npos) << "stdio_prog never got ready";
  // An epoch captured after "ready" holds the streams as set up.
  WaitForEpochBeyond(mn, app, CommittedEpoch(mn, app));
  run.Kill();
  ASSERT_EQ(run.Wait().signal, SIGKILL);
  EXPECT_EQ(ReadFile(dir / "stdio_prog.file"), "") << "the fopen'ed stream was flushed before the kill";

  Child again(dir.path(), "recover", RespctRecover(mn, mn.tcp_url(), app, prog));
  WriteFile(dir / "go1", "");
  // Line-buffered again: the completed line is out while the program runs.
  const auto line_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (ReadFile(dir / "recover.out").find('\n') == std::string::npos &&
         std::chrono::steady_clock::now() < line_deadline && !again.Exited())
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(ReadFile(dir / "recover.out"), "stdio_prog: part-rest\n")
      << "stdout lost its line buffering or the bytes it held";
  WriteFile(dir / "go2", "");
  const ChildResult r = again.Wait();
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_EQ(ReadFile(dir / "stdio_prog.file"), "stdio_prog: file line\n") << "exit did not flush the fopen'ed stream";
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
