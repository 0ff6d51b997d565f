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
// and the kills a campaign at random instants rarely makes (issue 13 §2):
//   KilledRightAfterEachResume    kill -9 0-50 ms after respct-recover says it
//                                 resumes, five times in a row
//   RecoveryKilledWhileFetching   respct-recover itself killed 0-30 ms after it
//                                 starts (its image fetch, exec or restore)
//   MemnodeKilledDuringRecovery   the memnode killed 0-30 ms into a recovery
//                                 and restarted: the recovery either finishes
//                                 or fails with exit 70 and one line; a retry
//                                 then resumes
//   MemnodeKilledRepeatedly       the memnode killed at random instants while
//                                 epochs commit and apply, five times
//   TwoRecoveriesRace             two respct-recover of one app at once:
//                                 exactly one resumes, the other refuses
// Every one ends with the native digest, and no recovery resumes an epoch
// older than one already committed (progress only forward).
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "runtime/base/exit_code.h"
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
const Example kBank = BankToKill();

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

  // Polls (bounded) until `tag`'s standard error says the recovery resumes.
  testing::AssertionResult Resumed(const std::string& tag, int timeout_s) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
    while (ResumedEpoch(shimtest::ReadFile(dir_ / (tag + ".err"))) == 0) {
      if (std::chrono::steady_clock::now() > deadline)
        return testing::AssertionFailure() << tag << " did not resume within " << timeout_s << " s: "
                                           << shimtest::Tail(shimtest::ReadFile(dir_ / (tag + ".err")));
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return testing::AssertionSuccess();
  }

  // A pause of [lo, hi] ms drawn from the test's generator (its seed is in
  // the test's output: RESPCT_CRASH_SEED repeats a run).
  void PauseMs(int lo, int hi) {
    std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(lo, hi)(rng_)));
  }

  // Starts the program, lets it commit at least three epochs and kills it:
  // the image these tests recover from. *committed: the epoch committed then.
  void CommitThenKill(uint64_t* committed) {
    auto app = Start("run", false);
    ASSERT_TRUE(CommittedAtLeast(3, 60, committed));
    app->Kill();
  }

  // Recovers the program as `tag` and lets it run to the end: the native
  // result, resumed from an epoch no older than `at_least`.
  void RecoverToTheEnd(const std::string& tag, uint64_t at_least) {
    auto rec = Start(tag, true);
    ExpectNativeEnd(rec.get(), tag);
    EXPECT_GE(ResumedEpoch(shimtest::ReadFile(dir_ / (tag + ".err"))), at_least) << "the recovery went back in time";
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
  std::mt19937_64 rng_{[] {
    const char* env = std::getenv("RESPCT_CRASH_SEED");
    const uint64_t seed = env != nullptr ? std::strtoull(env, nullptr, 10) : std::random_device{}();
    std::printf("RESPCT_CRASH_SEED=%llu\n", static_cast<unsigned long long>(seed));
    return seed;
  }()};
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

TEST_P(MemnodeCrash, KilledRightAfterEachResume) {
  uint64_t committed = 0;
  ASSERT_NO_FATAL_FAILURE(CommitThenKill(&committed));
  uint64_t resumed = 0;
  for (int i = 0; i < 5; ++i) {
    const std::string tag = "recover" + std::to_string(i);
    auto rec = Start(tag, true);
    ASSERT_TRUE(Resumed(tag, 60));
    PauseMs(0, 50);
    ASSERT_FALSE(rec->Exited()) << "finished before the kill: make the workload longer\n" << rec->Wait().Describe();
    rec->Kill();
    const uint64_t epoch = ResumedEpoch(shimtest::ReadFile(dir_ / (tag + ".err")));
    EXPECT_GE(epoch, std::max(resumed, committed)) << "recovery " << i << " went back in time";
    resumed = epoch;
  }
  RecoverToTheEnd("recover-last", resumed);
}

TEST_P(MemnodeCrash, RecoveryKilledWhileFetching) {
  uint64_t committed = 0;
  ASSERT_NO_FATAL_FAILURE(CommitThenKill(&committed));
  for (int i = 0; i < 5; ++i) {
    auto rec = Start("recover" + std::to_string(i), true);
    PauseMs(0, 30);
    rec->Kill();
  }
  RecoverToTheEnd("recover-last", committed);
}

TEST_P(MemnodeCrash, MemnodeKilledDuringRecovery) {
  uint64_t committed = 0;
  ASSERT_NO_FATAL_FAILURE(CommitThenKill(&committed));
  auto img = ReadCommittedImage(mn_.tcp_url(), mn_.secret(), app_, 10000);
  ASSERT_TRUE(img.ok()) << img.status().ToString();

  auto rec = Start("recover", true);
  PauseMs(0, 30);
  mn_.Kill();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  ASSERT_TRUE(shimtest::Started(mn_));
  ChildResult r = rec->Wait();
  r.out = shimtest::ReadFile(dir_ / "recover.out");
  std::printf("the recovery the memnode's kill interrupted: %s\n", r.exit_code == 0 ? "finished" : "gave up");
  if (r.exit_code == 0) {
    // It resumed before the memnode died, or after it came back, and the
    // program reconnected: the run is complete.
    EXPECT_EQ(shimtest::DigestLine(kBank.name, r.out).value_or("(no digest line)"), native_line_) << r.Describe();
    return;
  }
  // Otherwise the recovery (or the resumed program's first connection) gave
  // up: with respct's own exit status and a reason, never by a signal.
  EXPECT_EQ(r.exit_code, kExitRespctFailure) << r.Describe();
  EXPECT_FALSE(shimtest::Tail(r.err, 3).empty()) << r.Describe();
  RecoverToTheEnd("recover-again", img->epoch);
}

TEST_P(MemnodeCrash, MemnodeKilledRepeatedly) {
  auto app = Start("run", false);
  uint64_t seen = 0;
  ASSERT_TRUE(CommittedAtLeast(3, 60, &seen));
  for (int i = 0; i < 5; ++i) {
    PauseMs(0, 20);
    mn_.Kill();
    ASSERT_TRUE(shimtest::Started(mn_));
    ASSERT_TRUE(CommittedAtLeast(seen + 2, 30, &seen)) << "no commit to the memnode restarted " << i + 1 << " time(s)";
  }
  ASSERT_FALSE(app->Exited()) << "finished before the last kill: make the workload longer";
  app->Kill();
  RecoverToTheEnd("recover", seen);
}

TEST_P(MemnodeCrash, TwoRecoveriesRace) {
  uint64_t committed = 0;
  ASSERT_NO_FATAL_FAILURE(CommitThenKill(&committed));
  auto a = Start("recover-a", true);
  auto b = Start("recover-b", true);
  ChildResult ra = a->Wait();
  ChildResult rb = b->Wait();
  ra.out = shimtest::ReadFile(dir_ / "recover-a.out");
  rb.out = shimtest::ReadFile(dir_ / "recover-b.out");
  const bool a_won = ra.exit_code == 0;
  const ChildResult& winner = a_won ? ra : rb;
  const ChildResult& loser = a_won ? rb : ra;
  ASSERT_EQ(winner.exit_code, 0) << "neither recovery finished\n" << ra.Describe() << "\n" << rb.Describe();
  EXPECT_EQ(shimtest::DigestLine(kBank.name, winner.out).value_or("(no digest line)"), native_line_)
      << winner.Describe();
  // The other refused with respct's exit status and said why; it never ran
  // the program (no digest, so it never wrote the winner's results).
  std::printf("the recovery that lost the race said: %s\n", shimtest::Tail(loser.err, 1).c_str());
  EXPECT_EQ(loser.exit_code, kExitRespctFailure) << loser.Describe();
  EXPECT_FALSE(shimtest::DigestLine(kBank.name, loser.out).has_value()) << loser.Describe();
}

INSTANTIATE_TEST_SUITE_P(Transports, MemnodeCrash, testing::Values("shm", "tcp"));

}  // namespace
}  // namespace respct::crashtest
