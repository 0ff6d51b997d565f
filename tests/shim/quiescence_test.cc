// No thread can stop checkpoints, and when one does the user is told:
//   - a server whose main thread waits in pause() (a libc call the shim does
//     not treat specially) while workers serve from epoll: epochs commit at
//     their interval, none abandoned, and after kill -9 the recovered server
//     goes on counting from exactly where the image left it;
//   - a thread that lives inside libc (memset of a large buffer, over and
//     over), where a stop signal may not park it: the shim says during the
//     run that the program is not protected, naming the thread, why and
//     where, and --stats lists it.
// And a recovery is all-or-nothing: with the creation of one thread delayed,
// main's re-issued pthread_join on it still works (it did not: main resumed
// before the thread it joins existed, and glibc crashed in list_del).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tests/shim/count_client.h"
#include "tests/shim/shim_test_util.h"

namespace respct::shimtest {
namespace {

uint64_t WaitForEpochBeyond(const test::MemnodeProcess& mn, const std::string& app, uint64_t after) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  uint64_t e = 0;
  while ((e = CommittedEpoch(mn, app)) <= after && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  return e;
}

TEST(Quiescence, ServerWaitingInPauseCommitsEveryIntervalAndResumesExactly) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  test::MemnodeProcess mn(MemnodeOptions());
  ASSERT_TRUE(Started(mn));
  const std::string app = UniqueApp("pause");
  const std::string url = mn.tcp_url();
  const std::string stats = dir / "stats.json";
  const std::vector<std::string> prog = {PAUSE_SERVER, dir / "port", "3"};
  Child run(dir.path(), "run", RespctRun(url, mn.secret_path(), app, {"--stats=json", "--stats-file", stats}, prog));
  const uint16_t port = WaitForPort(dir / "port");
  ASSERT_NE(port, 0) << run.Wait().Describe();

  // Served for a while, from two connections.
  long last = 0;
  {
    CountClient a(port), b(port);
    ASSERT_TRUE(a.ok() && b.ok());
    for (int i = 0; i < 250; ++i) {
      ASSERT_GT(a.Request(), 0);
      last = b.Request();
      ASSERT_GT(last, 0);
    }
  }
  ASSERT_EQ(last, 500);
  // Nothing more is asked; main stays in pause(). Epochs go on committing
  // (a main thread in pause() used to make every attempt fail).
  EXPECT_GE(WaitForEpochBeyond(mn, app, 50), 51u) << "no 50 epochs within a minute";
  run.Signal(SIGTERM);
  const ChildResult r = run.Wait();
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_NE(r.out.find("pause_server: served=500 ok"), std::string::npos) << r.Describe();
  const std::string json = ReadFile(stats);
  const auto committed = JsonUint(json, "epochs_committed");
  const auto abandoned = JsonUint(json, "epochs_abandoned");
  ASSERT_TRUE(committed && abandoned) << json.substr(0, 400);
  EXPECT_GE(*committed, 50u) << json.substr(0, 400);
  EXPECT_LE(*abandoned * 20, *committed) << json.substr(0, 400);
  EXPECT_EQ(r.err.find("NOT protected"), std::string::npos) << r.Describe();
}

TEST(Quiescence, RecoveredPauseServerGoesOnFromTheImage) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  test::MemnodeProcess mn(MemnodeOptions());
  ASSERT_TRUE(Started(mn));
  const std::string app = UniqueApp("pause-rec");
  const std::string url = mn.shm_url();
  const std::vector<std::string> prog = {PAUSE_SERVER, dir / "port", "3"};
  Child run(dir.path(), "run", RespctRun(url, mn.secret_path(), app, {}, prog));
  const uint16_t port = WaitForPort(dir / "port");
  ASSERT_NE(port, 0) << run.Wait().Describe();
  {
    CountClient c(port);
    ASSERT_TRUE(c.ok());
    for (int i = 0; i < 300; ++i) ASSERT_EQ(c.Request(), i + 1);
  }
  WaitForEpochBeyond(mn, app, CommittedEpoch(mn, app) + 3);
  run.Kill();
  ASSERT_EQ(run.Wait().signal, SIGKILL);

  std::vector<std::string> recover = {RESPCT_RECOVER_BIN, "--memnode", url, "--secret-file", mn.secret_path(),
                                      "--app", app, "--"};
  recover.insert(recover.end(), prog.begin(), prog.end());
  Child again(dir.path(), "again", recover);
  // The same port: the listener was bound again before any thread resumed.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  long next = -1;
  while (next < 0 && std::chrono::steady_clock::now() < deadline) {
    CountClient c(port);
    if (c.ok()) next = c.Request();
    if (next < 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(next, 301) << "the count did not go on from the image";
  again.Signal(SIGTERM);
  const ChildResult r = again.Wait();
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_NE(r.err.find("restored"), std::string::npos) << r.Describe();
  EXPECT_NE(r.out.find("served=301 ok"), std::string::npos) << r.Describe();
}

TEST(Quiescence, AThreadLivingInLibcIsNamedDuringTheRun) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  test::MemnodeProcess mn(MemnodeOptions());
  ASSERT_TRUE(Started(mn));
  const std::string app = UniqueApp("spinner");
  const ChildResult r = RunChild(
      dir.path(), "run", RespctRun(mn.tcp_url(), mn.secret_path(), app, {"--stats"}, {LIBC_SPINNER, "6"}));
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  // During the run, not only at exit: the no-commit warning comes 2 s in.
  EXPECT_NE(r.err.find("NOT protected"), std::string::npos) << r.Describe();
  EXPECT_NE(r.err.find("inside libc, not at a system call"), std::string::npos) << r.Describe();
  EXPECT_NE(r.err.find("(libc.so.6"), std::string::npos) << r.Describe();
  EXPECT_NE(r.err.find("checkpoints held up by"), std::string::npos) << r.Describe();
}

// A read blocked across epochs into memory the mprotect tracker protects:
// the epochs must leave its buffer open while the kernel may still write it
// (issue 16: the next collect re-protected it and the read failed, EFAULT).
// With every tracker, as the program sees no difference.
class BlockedRead : public testing::TestWithParam<const char*> {};

TEST_P(BlockedRead, SpansEpochsUnderEveryTracker) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  test::MemnodeProcess mn(MemnodeOptions());
  ASSERT_TRUE(Started(mn));
  const ChildResult r = RunChild(dir.path(), "run",
                                 RespctRun(mn.tcp_url(), mn.secret_path(), UniqueApp("blockedread"),
                                           {"--tracker", GetParam()}, {BLOCKED_READ_PROG}));
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_NE(r.out.find("blocked_read_prog: ok"), std::string::npos) << r.Describe();
}

INSTANTIATE_TEST_SUITE_P(Trackers, BlockedRead, testing::Values("uffd", "mprotect", "scan"),
                         [](const testing::TestParamInfo<const char*>& i) { return std::string(i.param); });

// issue 13 §1: the threads of a recovery run only once all are back.
TEST(Recovery, NoThreadRunsBeforeEveryThreadIsBack) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  test::MemnodeProcess mn(MemnodeOptions());
  ASSERT_TRUE(Started(mn));
  const std::string app = UniqueApp("allornothing");
  const std::string url = mn.tcp_url();
  // recovery_prog's main joins its workers; slot 3 is the last worker.
  const std::vector<std::string> prog = {RECOVERY_PROG, "3", "40000000"};
  Child run(dir.path(), "run", RespctRun(url, mn.secret_path(), app, {}, prog));
  WaitForEpochBeyond(mn, app, 5);
  run.Kill();
  ASSERT_EQ(run.Wait().signal, SIGKILL);
  std::vector<std::string> recover = {RESPCT_RECOVER_BIN, "--memnode", url, "--secret-file", mn.secret_path(),
                                      "--app", app, "--"};
  recover.insert(recover.end(), prog.begin(), prog.end());
  // Slot 3 is recreated 300 ms after the others: main's join on it is
  // re-issued only once it exists.
  const ChildResult r = RunChild(dir.path(), "recover", recover, WithEnv("RESPCT_TEST_DELAY_SLOT", "3:300"));
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_NE(r.out.find("recovery_prog: total=120000000 ok"), std::string::npos) << r.Describe();
}

}  // namespace
}  // namespace respct::shimtest
