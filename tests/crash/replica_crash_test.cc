// Three real memnodes (tcp) as replicas of bank under respct-run, commit on a
// majority (DESIGN.md §5):
//   LosesAMemnodeRecoversFromTheOthers  one memnode kill -9'd mid-run: the
//       program keeps committing (the two others' epochs keep rising); then
//       the program is killed and recovered with the lost memnode still
//       down (a read quorum of 2 answers), ends with the native digest; the
//       lost memnode, restarted on its pool during the recovered run, is
//       caught up and holds the same epoch as the others
//   LosesEachMemnodeInTurn  the same kill of a memnode and its restart, for
//       each of the three in turn in one run: each is caught up before the
//       next is killed, and the last recovery is exact
#include <signal.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "tests/crash/committed_image.h"
#include "tests/crash/example_cases.h"
#include "tests/shim/shim_test_util.h"

namespace respct::crashtest {
namespace {

using shimtest::Child;
using shimtest::ChildOptions;
using shimtest::ChildResult;

const Example kBank = {"bank", BANK_BIN, {"--transfers", "1500000", "--work-ns", "100", "--report-ms", "20"},
                       "transfers"};

class ReplicaCrash : public testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    for (test::MemnodeProcess* mn : mn_ptr_) ASSERT_TRUE(shimtest::Started(*mn));
    std::vector<std::string> argv = {kBank.binary};
    argv.insert(argv.end(), kBank.args.begin(), kBank.args.end());
    const ChildResult native = shimtest::RunChild(dir_.path(), "native", argv);
    ASSERT_EQ(native.exit_code, 0) << native.Describe();
    native_line_ = shimtest::DigestLine(kBank.name, native.out).value_or("");
    ASSERT_FALSE(native_line_.empty()) << native.Describe();
  }

  std::unique_ptr<Child> Start(const std::string& tag, bool recover) {
    std::vector<std::string> argv = {recover ? RESPCT_RECOVER_BIN : RESPCT_RUN_BIN};
    // The three share one secret (Options below).
    for (test::MemnodeProcess* mn : mn_ptr_) {
      argv.push_back("--memnode");
      argv.push_back(mn->tcp_url());
    }
    argv.push_back("--secret-file");
    argv.push_back(first_.secret_path());
    argv.insert(argv.end(), {"--app", app_, "--epoch-ms", "10"});
    if (!recover) {
      argv.push_back("--fresh");
      argv.insert(argv.end(), kSmallImage.begin(), kSmallImage.end());
    }
    argv.push_back("--");
    argv.push_back(kBank.binary);
    argv.insert(argv.end(), kBank.args.begin(), kBank.args.end());
    ChildOptions co;
    co.env.emplace_back("RESPCT_STATE_DIR", dir_.path());
    co.stdout_file = dir_ / (tag + ".out");
    co.timeout_s = 300;
    return std::make_unique<Child>(dir_.path(), tag, argv, co);
  }

  uint64_t Committed(size_t i) { return CommittedEpochNow(mn_ptr_[i]->tcp_url(), mn_ptr_[i]->secret(), app_); }

  // Polls (bounded) until memnode i lists a committed epoch >= `epoch`.
  testing::AssertionResult CommittedAtLeast(size_t i, uint64_t epoch, int timeout_s, uint64_t* seen) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
    while ((*seen = Committed(i)) < epoch) {
      if (std::chrono::steady_clock::now() > deadline)
        return testing::AssertionFailure() << "memnode " << i << ": committed epoch " << *seen << " after "
                                           << timeout_s << " s, waited for " << epoch << "; its log: "
                                           << mn_ptr_[i]->LogTail();
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return testing::AssertionSuccess();
  }

  // Kills memnode `lost`, checks that the two others keep committing, and
  // returns the epoch they reached.
  void LoseMemnode(size_t lost, Child* app, uint64_t* reached) {
    uint64_t before = 0;
    const size_t other = (lost + 1) % 3;
    ASSERT_TRUE(CommittedAtLeast(other, 1, 60, &before));
    mn_ptr_[lost]->Kill();
    ASSERT_TRUE(CommittedAtLeast(other, before + 20, 60, reached)) << "commits stopped with one memnode of 3 lost";
    ASSERT_FALSE(app->Exited()) << "finished too early: make the workload longer";
    uint64_t third = 0;
    ASSERT_TRUE(CommittedAtLeast((lost + 2) % 3, before + 20, 60, &third));
  }

  // Restarts memnode `i` on its pool and waits until it holds an epoch at
  // least as high as `other`'s was when it came back: caught up.
  void RestartAndCatchUp(size_t i, size_t other) {
    ASSERT_TRUE(shimtest::Started(*mn_ptr_[i]));
    const uint64_t target = Committed(other);
    uint64_t seen = 0;
    ASSERT_TRUE(CommittedAtLeast(i, target, 60, &seen)) << "the restarted memnode was not caught up";
  }

  void ExpectNativeEnd(Child* child, const std::string& tag) {
    ChildResult r = child->Wait();
    r.out = shimtest::ReadFile(dir_ / (tag + ".out"));
    ASSERT_EQ(r.exit_code, 0) << r.Describe();
    EXPECT_EQ(shimtest::DigestLine(kBank.name, r.out).value_or("(no digest line)"), native_line_) << r.Describe();
  }

  // The first memnode's random secret is the others' too.
  test::MemnodeProcess::Options Options() const {
    test::MemnodeProcess::Options o = shimtest::MemnodeOptions();
    o.secret_file = first_.secret_path();
    return o;
  }

  shimtest::TempDir dir_;
  test::MemnodeProcess first_{shimtest::MemnodeOptions()};
  test::MemnodeProcess second_{Options()};
  test::MemnodeProcess third_{Options()};
  std::array<test::MemnodeProcess*, 3> mn_ptr_{&first_, &second_, &third_};
  std::string app_ = shimtest::UniqueApp("bank");
  std::string native_line_;
};

TEST_F(ReplicaCrash, LosesAMemnodeRecoversFromTheOthers) {
  auto app = Start("run", false);
  uint64_t reached = 0;
  ASSERT_NO_FATAL_FAILURE(LoseMemnode(2, app.get(), &reached));
  app->Kill();
  const uint64_t last = std::max(Committed(0), Committed(1));

  auto rec = Start("recover", true);
  const std::string err_path = dir_ / "recover.err";
  uint64_t resumed = 0;
  for (auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
       (resumed = ResumedEpoch(shimtest::ReadFile(err_path))) == 0 && std::chrono::steady_clock::now() < deadline;)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_NE(resumed, 0u) << shimtest::Tail(shimtest::ReadFile(err_path));
  EXPECT_EQ(resumed, last) << "the recovery did not resume the last epoch a quorum committed";
  ASSERT_NO_FATAL_FAILURE(RestartAndCatchUp(2, 0));
  ExpectNativeEnd(rec.get(), "recover");
  const std::string err = shimtest::ReadFile(err_path);
  EXPECT_NE(err.find("memnode " + mn_ptr_[2]->tcp_url() + " caught up from epoch"), std::string::npos) << err;
}

TEST_F(ReplicaCrash, LosesEachMemnodeInTurn) {
  auto app = Start("run", false);
  for (size_t lost = 0; lost < 3; ++lost) {
    uint64_t reached = 0;
    ASSERT_NO_FATAL_FAILURE(LoseMemnode(lost, app.get(), &reached)) << "memnode " << lost;
    ASSERT_NO_FATAL_FAILURE(RestartAndCatchUp(lost, (lost + 1) % 3)) << "memnode " << lost;
  }
  app->Kill();
  const std::string err = shimtest::ReadFile(dir_ / "run.err");
  for (test::MemnodeProcess* mn : mn_ptr_)
    EXPECT_NE(err.find("memnode " + mn->tcp_url() + " caught up from epoch"), std::string::npos) << err;
  auto rec = Start("recover", true);
  ExpectNativeEnd(rec.get(), "recover");
}

}  // namespace
}  // namespace respct::crashtest
