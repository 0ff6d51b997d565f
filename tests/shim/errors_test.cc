// What a user sees when respct cannot do its job, and what it keeps doing
// when the memnode goes away:
//   RespctRunErrors.*  respct-run refuses to start the program (exit 70, one
//                      "respct:" line naming the cause) or rejects its flags (2).
//   WriterHandover.*   one writer per app: a second run is refused, a run
//                      right after a kill -9 of the first attaches.
//   ExistingImage.*    a finished run's image is replaced, a crashed one's kept;
//                      a finished image implies the run's output is out.
//   MemnodeLost.*      kill -9 of the memnode mid-run: the program finishes
//                      with the native result and a warning; the memnode,
//                      restarted on the same pool, still has the app at the
//                      epoch it had committed (or later) and serves its image.
#include <sys/stat.h>

#include <csignal>

#include <chrono>
#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/shim/shim_test_util.h"

namespace respct::shimtest {
namespace {

const std::vector<std::string> kShortBank = {BANK_BIN, "--transfers", "1000"};

// The whole of stderr is one line, it starts with "respct:" and contains `what`.
void ExpectOneRespctLine(const ChildResult& r, const std::string& what) {
  const std::vector<std::string> lines = Lines(r.err);
  ASSERT_EQ(lines.size(), 1u) << "expected exactly one line on stderr" << r.Describe();
  EXPECT_EQ(lines[0].rfind("respct:", 0), 0u) << r.Describe();
  EXPECT_NE(lines[0].find(what), std::string::npos) << "the line does not mention '" << what << "'" << r.Describe();
  EXPECT_TRUE(r.out.empty()) << "the program ran although respct refused to start it" << r.Describe();
}

// A well-formed secret (32 bytes, mode 0600: respct refuses a secret others
// can read) that is not the memnode's.
void WriteSecret(const std::string& path, char fill) {
  WriteFile(path, std::string(32, fill));
  chmod(path.c_str(), 0600);
}

TEST(RespctRunErrors, MemnodeUnreachable) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  const std::string secret = dir / "secret";
  WriteSecret(secret, 'k');
  const std::string url = "tcp://127.0.0.1:" + std::to_string(ClosedLoopbackPort());
  const ChildResult r = RunChild(dir.path(), "respct", RespctRun(url, secret, UniqueApp("unreachable"), {}, kShortBank));
  EXPECT_EQ(r.exit_code, 70) << r.Describe();
  ExpectOneRespctLine(r, url);
}

TEST(RespctRunErrors, WrongSecret) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  test::MemnodeProcess mn(MemnodeOptions());
  ASSERT_TRUE(Started(mn));
  const std::string wrong = dir / "wrong-secret";
  WriteSecret(wrong, 'w');
  const ChildResult r = RunChild(dir.path(), "respct", RespctRun(mn.tcp_url(), wrong, UniqueApp("secret"), {}, kShortBank));
  EXPECT_EQ(r.exit_code, 70) << r.Describe();
  ExpectOneRespctLine(r, "authentication");
}

TEST(RespctRunErrors, ZeroEpochIsABadFlag) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  const ChildResult r = RunChild(dir.path(), "respct",
                            {RESPCT_RUN_BIN, "--memnode", "tcp://127.0.0.1:1", "--epoch-ms", "0", "--", BANK_BIN});
  EXPECT_EQ(r.exit_code, 2) << r.Describe();
  EXPECT_TRUE(r.out.find("bank:") == std::string::npos) << "the program ran" << r.Describe();
}

// An app has one writer: a second respct-run of a running app waits a moment
// for the first to go (see the next test), then refuses with the reason. Once
// the first is killed, a new run attaches at once, even straight after the kill.
TEST(WriterHandover, SecondRunOfALiveAppIsRefusedAndARunRightAfterAKillAttaches) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  test::MemnodeProcess mn(MemnodeOptions());
  ASSERT_TRUE(Started(mn));
  const std::string app = UniqueApp("handover");
  Child first(dir.path(), "first",
              RespctRun(mn.shm_url(), mn.secret_path(), app, {},
                        {BANK_BIN, "--transfers", "100000000", "--work-ns", "1000"}));
  ASSERT_GE(WaitForEpoch(mn, app, 1, std::chrono::seconds(30)), 1u)
      << "the first run never committed; memnode: " << mn.LogTail();

  const ChildResult second =
      RunChild(dir.path(), "second", RespctRun(mn.shm_url(), mn.secret_path(), app, {"--fresh"}, kShortBank));
  EXPECT_EQ(second.exit_code, 70) << second.Describe();
  ExpectOneRespctLine(second, "has a writer attached");
  EXPECT_FALSE(first.Exited()) << "the refused run disturbed the running one";

  first.Kill();
  const ChildResult third =
      RunChild(dir.path(), "third", RespctRun(mn.shm_url(), mn.secret_path(), app, {"--fresh"}, kShortBank));
  EXPECT_EQ(third.exit_code, 0) << third.Describe();
  EXPECT_TRUE(DigestLine("bank", third.out)) << third.Describe();
}

// A second respct-run of an app, without --fresh: the image of a run that
// exited cannot be resumed and is replaced (one line says so); the image of a
// run that was killed is kept, and the run is refused with what to do.
TEST(ExistingImage, FinishedRunIsReplacedCrashedRunIsKept) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  test::MemnodeProcess::Options two_apps = MemnodeOptions();
  two_apps.pool_size = "4G";  // sparse: each app reserves 1.4 GiB
  test::MemnodeProcess mn(two_apps);
  ASSERT_TRUE(Started(mn));
  const std::string app = UniqueApp("existing");
  const ChildResult first = RunChild(dir.path(), "first", RespctRun(mn.shm_url(), mn.secret_path(), app, {}, kShortBank));
  ASSERT_EQ(first.exit_code, 0) << first.Describe();
  const ChildResult again = RunChild(dir.path(), "again", RespctRun(mn.shm_url(), mn.secret_path(), app, {}, kShortBank));
  EXPECT_EQ(again.exit_code, 0) << again.Describe();
  EXPECT_TRUE(DigestLine("bank", again.out)) << again.Describe();
  EXPECT_NE(again.err.find("respct-run: replacing the image of app '" + app + "'"), std::string::npos)
      << again.Describe();

  const std::string crashed = UniqueApp("crashed");
  Child killed(dir.path(), "killed",
               RespctRun(mn.shm_url(), mn.secret_path(), crashed, {},
                         {BANK_BIN, "--transfers", "100000000", "--work-ns", "1000"}));
  ASSERT_GE(WaitForEpoch(mn, crashed, 1, std::chrono::seconds(30)), 1u)
      << "the killed run never committed; memnode: " << mn.LogTail();
  killed.Kill();
  const ChildResult refused =
      RunChild(dir.path(), "refused", RespctRun(mn.shm_url(), mn.secret_path(), crashed, {}, kShortBank));
  EXPECT_EQ(refused.exit_code, 70) << refused.Describe();
  ExpectOneRespctLine(refused, "run respct-recover to resume it");
}

// The image of a finished run promises that the run's output was written:
// exit() runs the final checkpoint before glibc flushes stdio, so the shim
// flushes the streams first. Killed right after that checkpoint committed
// (RESPCT_TEST_KILL_AT_EXIT), recovery_prog's result line, printf'ed into
// fully buffered stdout (a file) just before main returned, must be out; it
// was lost before.
TEST(ExistingImage, FinishedRunsOutputIsOutBeforeItsImageSaysSo) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  test::MemnodeProcess mn(MemnodeOptions());
  ASSERT_TRUE(Started(mn));
  const std::string app = UniqueApp("exitflush");
  const std::vector<std::string> prog = {RECOVERY_PROG, "2", "1000"};
  const ChildResult r = RunChild(dir.path(), "run", RespctRun(mn.shm_url(), mn.secret_path(), app, {}, prog),
                                 WithEnv("RESPCT_TEST_KILL_AT_EXIT", "1"));
  ASSERT_EQ(r.signal, SIGKILL) << "the test hook did not kill the run at exit" << r.Describe();
  EXPECT_NE(r.out.find("recovery_prog: total=2000 ok"), std::string::npos)
      << "the finished run's buffered result was never written" << r.Describe();
  // And the image is that of a finished run: a plain start replaces it.
  const ChildResult again = RunChild(dir.path(), "again", RespctRun(mn.shm_url(), mn.secret_path(), app, {}, prog));
  EXPECT_EQ(again.exit_code, 0) << again.Describe();
  EXPECT_NE(again.err.find("replacing the image of app '" + app + "'"), std::string::npos) << again.Describe();
}

TEST(MemnodeLost, ProgramFinishesAndPoolSurvives) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  test::MemnodeProcess mn(MemnodeOptions());
  ASSERT_TRUE(Started(mn));
  // About a second of work natively: long enough to lose the memnode in the middle.
  const std::vector<std::string> bank = {BANK_BIN, "--transfers", "300000", "--work-ns", "1000"};
  const ChildResult native = RunChild(dir.path(), "native", bank);
  ASSERT_EQ(native.exit_code, 0) << native.Describe();
  const auto expected = DigestLine("bank", native.out);
  ASSERT_TRUE(expected) << native.Describe();

  const std::string app = UniqueApp("lost");
  Child child(dir.path(), "respct", RespctRun(mn.tcp_url(), mn.secret_path(), app, {}, bank));
  // A few committed epochs first, so there is something on the pool to keep.
  const uint64_t before = WaitForEpoch(mn, app, 3, std::chrono::seconds(30));
  ASSERT_GE(before, 3u) << "the app never committed 3 epochs; memnode: " << mn.LogTail();
  mn.Kill();

  const ChildResult r = child.Wait();
  ASSERT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_EQ(DigestLine("bank", r.out).value_or("(no digest line)"), *expected) << r.Describe();
  bool warned = false;
  for (const std::string& line : Lines(r.err))
    warned |= line.rfind("respct:", 0) == 0 && line.find("memnode") != std::string::npos;
  EXPECT_TRUE(warned) << "no 'respct: ... memnode ...' warning on stderr" << r.Describe();

  // Same pool, same port: the app opens, its committed epochs replayed.
  ASSERT_TRUE(Started(mn));
  auto reader = Transport::Connect(mn.tcp_url(), mn.secret(), ReaderOf(app));
  ASSERT_TRUE(reader.ok()) << reader.status().ToString() << "\nmemnode: " << mn.LogTail();
  EXPECT_GE((*reader)->info().committed_epoch, before);
  ASSERT_FALSE((*reader)->info().regions.empty());
  const RegionSpec meta = (*reader)->info().regions.front();
  std::vector<char> bytes(static_cast<size_t>(meta.size));
  const Status read = (*reader)->ReadImage(meta.id, 0, bytes.data(), bytes.size());
  EXPECT_TRUE(read.ok()) << read.ToString();
}

}  // namespace
}  // namespace respct::shimtest
