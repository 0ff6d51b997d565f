// Crashes around the memnode, with bank under respct-run:
//   MemnodeKilledAlone   kill -9 of the memnode: the program keeps running
//                        (the replicator retries with backoff), reconnects
//                        when the memnode is back on the same pool and commits
//                        later epochs; then the program is killed and
//                        recovered, and ends with the native digest.
//   MemnodeAndAppKilled  both killed at once; memnode restarted (it replays
//                        its log), program recovered from the epoch committed
//                        before the crash, native digest.
//   RecoveredTwice       a recovered program keeps checkpointing to the same
//                        image: killed again after it committed more, the
//                        second recovery resumes a later epoch than the first.
#include <signal.h>

#include <chrono>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "tests/crash/committed_image.h"
#include "tests/crash/example_cases.h"
#include "tests/crash/output_follower.h"
#include "tests/shim/shim_test_util.h"

namespace respct::crashtest {
namespace {

using shimtest::Child;
using shimtest::ChildOptions;
using shimtest::ChildResult;

// Long enough (several seconds under respct) to be killed in the middle.
const Example kBank = {"bank", BANK_BIN, {"--transfers", "1500000", "--work-ns", "100", "--report-ms", "20"},
                       "transfers"};

class MemnodeCrash : public testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    ASSERT_TRUE(shimtest::Started(mn_));
    std::vector<std::string> argv = {kBank.binary};
    argv.insert(argv.end(), kBank.args.begin(), kBank.args.end());
    const ChildResult native = shimtest::RunChild(dir_.path(), "native", argv);
    ASSERT_EQ(native.exit_code, 0) << native.Describe();
    native_line_ = shimtest::DigestLine(kBank.name, native.out).value_or("");
    ASSERT_FALSE(native_line_.empty()) << native.Describe();
  }

  std::string Url() const { return GetParam() == "shm" ? mn_.shm_url() : mn_.tcp_url(); }

  std::vector<std::string> Command(const char* tool, const std::vector<std::string>& flags) const {
    std::vector<std::string> argv = {tool,  "--memnode", Url(), "--secret-file", mn_.secret_path(), "--app", app_,
                                     "--epoch-ms", "10"};
    argv.insert(argv.end(), flags.begin(), flags.end());
    argv.push_back("--");
    argv.push_back(kBank.binary);
    argv.insert(argv.end(), kBank.args.begin(), kBank.args.end());
    return argv;
  }

  std::unique_ptr<Child> Start(const std::string& tag, bool recover) {
    std::vector<std::string> flags = kSmallImage;
    flags.insert(flags.begin(), "--fresh");
    ChildOptions co;
    co.env.emplace_back("RESPCT_STATE_DIR", dir_.path());
    co.stdout_file = dir_ / (tag + ".out");
    co.timeout_s = 300;
    return std::make_unique<Child>(dir_.path(), tag,
                                   recover ? Command(RESPCT_RECOVER_BIN, {}) : Command(RESPCT_RUN_BIN, flags), co);
  }

  // Polls until the memnode lists a committed epoch >= `epoch` for the app.
  testing::AssertionResult CommittedAtLeast(uint64_t epoch, int timeout_s, uint64_t* seen) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
    while ((*seen = CommittedEpochNow(mn_.tcp_url(), mn_.secret(), app_)) < epoch) {
      if (std::chrono::steady_clock::now() > deadline)
        return testing::AssertionFailure() << "committed epoch " << *seen << " after " << timeout_s
                                           << " s, waited for " << epoch << "; memnode: " << mn_.LogTail();
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return testing::AssertionSuccess();
  }

  // Lets `child` run to the end and checks the native result.
  void ExpectNativeEnd(Child* child, const std::string& tag) {
    ChildResult r = child->Wait();
    r.out = shimtest::ReadFile(dir_ / (tag + ".out"));
    ASSERT_EQ(r.exit_code, 0) << r.Describe() << "\nmemnode: " << mn_.LogTail();
    EXPECT_EQ(shimtest::DigestLine(kBank.name, r.out).value_or("(no digest line)"), native_line_) << r.Describe();
  }

  shimtest::TempDir dir_;
  test::MemnodeProcess mn_{shimtest::MemnodeOptions()};
  std::string app_ = shimtest::UniqueApp("bank");
  std::string native_line_;
};

TEST_P(MemnodeCrash, MemnodeKilledAlone) {
  auto app = Start("run", false);
  uint64_t before = 0;
  ASSERT_TRUE(CommittedAtLeast(3, 60, &before));
  mn_.Kill();
  // The program goes on without its memnode: more progress lines come.
  OutputFollower out(dir_ / "run.out");
  out.Poll();
  const size_t lines_at_kill = out.lines().size();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  out.Poll();
  ASSERT_FALSE(app->Exited()) << "the program stopped when the memnode died (or finished: make it longer)";
  EXPECT_GT(out.lines().size(), lines_at_kill) << "no progress while the memnode was down";

  ASSERT_TRUE(shimtest::Started(mn_));  // same pool, port and socket
  uint64_t after = 0;
  ASSERT_TRUE(CommittedAtLeast(before + 1, 30, &after)) << "the program did not commit to the restarted memnode";
  ASSERT_FALSE(app->Exited()) << "finished before the kill: make the workload longer";
  app->Kill();

  auto rec = Start("recover", true);
  ExpectNativeEnd(rec.get(), "recover");
  EXPECT_GE(ResumedEpoch(shimtest::ReadFile(dir_ / "recover.err")), after);
}

TEST_P(MemnodeCrash, MemnodeAndAppKilledTogether) {
  auto app = Start("run", false);
  uint64_t before = 0;
  ASSERT_TRUE(CommittedAtLeast(3, 60, &before));
  // Both at once: signals first, reaping after.
  mn_.SendKill();
  app->Kill();
  mn_.Kill();
  ASSERT_TRUE(shimtest::Started(mn_));
  auto img = ReadCommittedImage(mn_.tcp_url(), mn_.secret(), app_, 10000);
  ASSERT_TRUE(img.ok()) << img.status().ToString();
  EXPECT_GE(img->epoch, before) << "the restarted memnode lost a committed epoch";

  auto rec = Start("recover", true);
  ExpectNativeEnd(rec.get(), "recover");
  EXPECT_EQ(ResumedEpoch(shimtest::ReadFile(dir_ / "recover.err")), img->epoch);
}

TEST_P(MemnodeCrash, RecoveredTwiceFromSuccessiveEpochs) {
  auto app = Start("run", false);
  uint64_t first = 0;
  ASSERT_TRUE(CommittedAtLeast(3, 60, &first));
  app->Kill();
  auto img = ReadCommittedImage(mn_.tcp_url(), mn_.secret(), app_, 10000);
  ASSERT_TRUE(img.ok()) << img.status().ToString();
  first = img->epoch;

  auto rec1 = Start("recover1", true);
  uint64_t later = 0;
  ASSERT_TRUE(CommittedAtLeast(first + 3, 60, &later)) << "the recovered program does not checkpoint";
  ASSERT_FALSE(rec1->Exited()) << "finished before the second kill: make the workload longer";
  rec1->Kill();
  EXPECT_EQ(ResumedEpoch(shimtest::ReadFile(dir_ / "recover1.err")), first);

  auto rec2 = Start("recover2", true);
  ExpectNativeEnd(rec2.get(), "recover2");
  const uint64_t second = ResumedEpoch(shimtest::ReadFile(dir_ / "recover2.err"));
  EXPECT_GT(second, first) << "the second recovery did not resume a later epoch";
  EXPECT_GE(second, later);
}

INSTANTIATE_TEST_SUITE_P(Transports, MemnodeCrash, testing::Values("shm", "tcp"));

}  // namespace
}  // namespace respct::crashtest
