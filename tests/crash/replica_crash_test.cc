// Three real memnodes (tcp) as replicas of bank under respct-run, commit on a
// majority (DESIGN.md §5):
//   LosesAMemnodeRecoversFromTheOthers  one memnode kill -9'd mid-run: the
//       program keeps committing (the two others' epochs keep rising); then
//       the program is killed and recovered with the lost memnode still
//       down (a read quorum of 2 answers), ends with the native digest; the
//       lost memnode, restarted on its pool during the recovered run, is
//       caught up and holds the same epoch as the others, as respct-inspect
//       --replicas shows once the program finished
//   LosesEachMemnodeInTurn  the same kill of a memnode and its restart, for
//       each of the three in turn in one run: each is caught up before the
//       next is killed, and the last recovery is exact
//   FrozenWriterIsFenced  the program frozen with SIGSTOP and recovered
//       meanwhile with --take-over: once SIGCONT'd, its next commit is
//       refused on every memnode and it exits 70 with one line saying it was
//       fenced; the recovered run's image is untouched (native digest)
//   FaultCampaign  RESPCT_REPLICA_EVENTS (default 100) random events, never
//       more memnodes down at once than a majority of 3 tolerates (one): a
//       memnode killed, the down one restarted (it must catch up), or the
//       program kill -9'd and recovered (it must resume exactly the highest
//       epoch the live memnodes hold, never an older one than the last
//       resume); every event is checked and counted, and the run ends with
//       the native digest. RESPCT_CRASH_SEED repeats a run.
#include <signal.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
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

const Example kBank = BankToKill();
// Long enough for two rounds of memnode losses.
const Example kLongBank = BankToKill(12000000);
// Long enough for a campaign of `events` events and the recoveries in it
// (12 M transfers ran out before 100 events once: the memnode events take
// longer than the program kills).
Example CampaignBank(int events) { return BankToKill(300000ull * static_cast<uint64_t>(std::max(events, 100))); }

class ReplicaCrash : public testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    for (test::MemnodeProcess* mn : mn_ptr_) ASSERT_TRUE(shimtest::Started(*mn));
    ASSERT_NO_FATAL_FAILURE(RunNative(kBank));
  }

  // Runs `e` natively for the digest every run of it must end with; the
  // runs started afterwards run `e`.
  void RunNative(const Example& e) {
    example_ = &e;
    std::vector<std::string> argv = {e.binary};
    argv.insert(argv.end(), e.args.begin(), e.args.end());
    const ChildResult native = shimtest::RunChild(dir_.path(), "native", argv);
    ASSERT_EQ(native.exit_code, 0) << native.Describe();
    native_line_ = shimtest::DigestLine(e.name, native.out).value_or("");
    ASSERT_FALSE(native_line_.empty()) << native.Describe();
  }

  // Polls (bounded) until `tag`'s standard error holds `text`.
  bool Says(const std::string& tag, const std::string& text, int timeout_s) const {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
    while (shimtest::ReadFile(dir_ / (tag + ".err")).find(text) == std::string::npos) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return true;
  }

  // The last lines the running program (the latest Start) wrote to stderr.
  std::string ProgramTail() const { return shimtest::Tail(shimtest::ReadFile(dir_ / (last_tag_ + ".err"))); }

  std::unique_ptr<Child> Start(const std::string& tag, bool recover, const std::vector<std::string>& extra = {}) {
    last_tag_ = tag;
    std::vector<std::string> argv = {recover ? RESPCT_RECOVER_BIN : RESPCT_RUN_BIN};
    // The three share one secret (Options below).
    for (test::MemnodeProcess* mn : mn_ptr_) {
      argv.push_back("--memnode");
      argv.push_back(mn->tcp_url());
    }
    argv.push_back("--secret-file");
    argv.push_back(first_.secret_path());
    argv.insert(argv.end(), {"--app", app_, "--epoch-ms", "10"});
    argv.insert(argv.end(), extra.begin(), extra.end());
    if (!recover) {
      argv.push_back("--fresh");
      argv.insert(argv.end(), kSmallImage.begin(), kSmallImage.end());
    }
    argv.push_back("--");
    argv.push_back(example_->binary);
    argv.insert(argv.end(), example_->args.begin(), example_->args.end());
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
    ASSERT_TRUE(CommittedAtLeast(other, before + 20, 60, reached))
        << "commits stopped with one memnode of 3 lost; the program said: " << ProgramTail();
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
    ASSERT_TRUE(CommittedAtLeast(i, target, 60, &seen))
        << "the restarted memnode was not caught up; the program said: " << ProgramTail();
  }

  void ExpectNativeEnd(Child* child, const std::string& tag) {
    ChildResult r = child->Wait();
    r.out = shimtest::ReadFile(dir_ / (tag + ".out"));
    ASSERT_EQ(r.exit_code, 0) << r.Describe();
    EXPECT_EQ(shimtest::DigestLine(example_->name, r.out).value_or("(no digest line)"), native_line_) << r.Describe();
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
  const Example* example_ = &kBank;
  std::string last_tag_;
  std::string native_line_;
};

TEST_F(ReplicaCrash, LosesAMemnodeRecoversFromTheOthers) {
  ASSERT_NO_FATAL_FAILURE(RunNative(kLongBank));  // the recovered run must outlast the catch-up
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
  EXPECT_TRUE(Says("recover", "memnode " + mn_ptr_[2]->tcp_url() + " caught up from epoch", 10)) << ProgramTail();

  // The program is done: every replica holds its final epoch.
  std::vector<std::string> inspect = {RESPCT_INSPECT_BIN, "--replicas", "--app", app_, "--secret-file",
                                      first_.secret_path(), "--json"};
  for (test::MemnodeProcess* mn : mn_ptr_) inspect.insert(inspect.end(), {"--memnode", mn->tcp_url()});
  const ChildResult shown = shimtest::RunChild(dir_.path(), "inspect", inspect);
  ASSERT_EQ(shown.exit_code, 0) << shown.Describe();
  EXPECT_NE(shown.out.find("\"answered\": 3"), std::string::npos) << shown.out;
  size_t up_to_date = 0;
  for (size_t at = 0; (at = shown.out.find("\"state\": \"up to date\"", at)) != std::string::npos; ++at) ++up_to_date;
  EXPECT_EQ(up_to_date, 3u) << shown.out;
}

TEST_F(ReplicaCrash, FrozenWriterIsFenced) {
  ASSERT_NO_FATAL_FAILURE(RunNative(kLongBank));
  auto frozen = Start("run", false);
  uint64_t before = 0;
  ASSERT_TRUE(CommittedAtLeast(0, 3, 60, &before));
  frozen->Signal(SIGSTOP);
  // Without --take-over the recovery refuses: the writer is attached.
  {
    const ChildResult refused = Start("refused", true)->Wait();
    EXPECT_EQ(refused.exit_code, 70) << refused.Describe();
    EXPECT_NE(refused.err.find("--take-over"), std::string::npos) << refused.Describe();
  }
  auto rec = Start("recover", true, {"--take-over"});
  ASSERT_TRUE(Says("recover", "resuming app", 60)) << ProgramTail();
  const uint64_t resumed = ResumedEpoch(shimtest::ReadFile(dir_ / "recover.err"));
  uint64_t later = 0;
  for (size_t i = 0; i < 3; ++i) ASSERT_TRUE(CommittedAtLeast(i, resumed + 5, 60, &later)) << "memnode " << i;
  frozen->Signal(SIGCONT);
  ChildResult woke = frozen->Wait();
  std::printf("the woken writer said:\n%s\n", shimtest::Tail(woke.err).c_str());
  EXPECT_EQ(woke.exit_code, 70) << woke.Describe();
  EXPECT_NE(woke.err.find("fenced"), std::string::npos) << woke.Describe();
  EXPECT_FALSE(rec->Exited()) << "the recovered run stopped when the old writer woke up";
  ExpectNativeEnd(rec.get(), "recover");
}

TEST_F(ReplicaCrash, FaultCampaign) {
  const char* env_events = std::getenv("RESPCT_REPLICA_EVENTS");
  const int events = env_events != nullptr ? std::atoi(env_events) : 100;
  const char* env_seed = std::getenv("RESPCT_CRASH_SEED");
  const uint64_t seed = env_seed != nullptr ? std::strtoull(env_seed, nullptr, 10) : std::random_device{}();
  std::printf("RESPCT_CRASH_SEED=%llu RESPCT_REPLICA_EVENTS=%d\n", static_cast<unsigned long long>(seed), events);
  std::mt19937_64 rng(seed);
  const Example long_bank = CampaignBank(events);
  ASSERT_NO_FATAL_FAILURE(RunNative(long_bank));
  auto pick = [&](int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng); };

  int down = -1;  // the memnode that is down, if any
  int memnode_kills = 0, catch_ups = 0, app_kills = 0;
  uint64_t last_resume = 0;
  int run = 0;
  std::string tag = "run0";
  auto app = Start(tag, false);
  uint64_t first = 0;
  ASSERT_TRUE(CommittedAtLeast(0, 3, 60, &first));  // a kill before this would have nothing to recover
  for (int event = 0; event < events; ++event) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20 + pick(80)));
    ASSERT_FALSE(app->Exited()) << "event " << event << ": the program ended before the campaign did (make it "
                                   "longer)\n" << app->Wait().Describe();
    // Two events in three are the memnodes', one the program's.
    const int what = pick(3);
    if (what < 2 && down < 0) {
      // A memnode killed: the two others keep committing.
      down = pick(3);
      const size_t other = static_cast<size_t>((down + 1) % 3);
      const uint64_t before = Committed(other);
      mn_ptr_[down]->Kill();
      uint64_t seen = 0;
      ASSERT_TRUE(CommittedAtLeast(other, before + 3, 60, &seen)) << "event " << event << ": commits stopped";
      ++memnode_kills;
    } else if (what < 2) {
      // The down memnode restarted on its pool: it is caught up.
      ASSERT_NO_FATAL_FAILURE(RestartAndCatchUp(static_cast<size_t>(down), static_cast<size_t>((down + 1) % 3)))
          << "event " << event;
      down = -1;
      ++catch_ups;
    } else {
      // The program killed and recovered from the live memnodes.
      app->Kill();
      uint64_t highest = 0;
      for (size_t i = 0; i < 3; ++i)
        if (static_cast<int>(i) != down) highest = std::max(highest, Committed(i));
      tag = "recover" + std::to_string(++run);
      app = Start(tag, true);
      uint64_t resumed = 0;
      const std::string err_path = dir_ / (tag + ".err");
      for (auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
           (resumed = ResumedEpoch(shimtest::ReadFile(err_path))) == 0 &&
           std::chrono::steady_clock::now() < deadline && !app->Exited();)
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      ASSERT_NE(resumed, 0u) << "event " << event << ": " << shimtest::Tail(shimtest::ReadFile(err_path));
      EXPECT_EQ(resumed, highest) << "event " << event << ": not the last committed epoch";
      EXPECT_GE(resumed, last_resume) << "event " << event << ": went back in time";
      last_resume = resumed;
      ++app_kills;
    }
  }
  std::printf("replica campaign: %d events: %d memnode kills, %d catch-ups, %d program kills and recoveries\n",
              events, memnode_kills, catch_ups, app_kills);
  EXPECT_EQ(memnode_kills + catch_ups + app_kills, events);
  ExpectNativeEnd(app.get(), tag);
}

TEST_F(ReplicaCrash, LosesEachMemnodeInTurn) {
  ASSERT_NO_FATAL_FAILURE(RunNative(kLongBank));
  auto app = Start("run", false);
  for (size_t lost = 0; lost < 3; ++lost) {
    uint64_t reached = 0;
    ASSERT_NO_FATAL_FAILURE(LoseMemnode(lost, app.get(), &reached)) << "memnode " << lost;
    ASSERT_NO_FATAL_FAILURE(RestartAndCatchUp(lost, (lost + 1) % 3)) << "memnode " << lost;
  }
  // The program says so once the catch-up epoch committed: a moment after
  // the memnode shows it.
  for (test::MemnodeProcess* mn : mn_ptr_)
    EXPECT_TRUE(Says("run", "memnode " + mn->tcp_url() + " caught up from epoch", 10)) << ProgramTail();
  ASSERT_FALSE(app->Exited()) << "finished before the kill: make the workload longer";
  app->Kill();
  auto rec = Start("recover", true);
  ExpectNativeEnd(rec.get(), "recover");
}

}  // namespace
}  // namespace respct::crashtest
