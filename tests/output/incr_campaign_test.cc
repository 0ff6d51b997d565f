// Output commit under kill -9 (issue 14): incr_server, a counter service with
// an append journal, runs under respct-run while client threads send INCRs
// over several connections; it is killed at random instants and recovered
// with respct-recover, again and again. After every recovery:
//   - no acknowledged increment is lost: for every key, GET returns at least
//     the highest value any client was answered before the kill (an answer
//     leaves the server only once its epoch is committed);
//   - the journal (a regular file the server appends to under the same lock)
//     holds, for every key, exactly 1, 2, ..., that value: no line of the
//     lost epoch is left in it (the recovery cut it back to its size at the
//     epoch) and none is written twice (regular-file writes are not restart
//     points, so a write cannot be both in the file and issued again);
//   - the server goes on serving, and ends cleanly on SIGTERM at the end.
// Kills per transport: RESPCT_INCR_CAMPAIGN_KILLS (default 25: 50 in CI over
// shm and tcp); the rdma case runs in the QEMU guest tier (label rdma).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "harness/memnode_process.h"
#include "tests/shim/count_client.h"
#include "tests/shim/shim_test_util.h"

namespace respct::outputtest {
namespace {

using shimtest::Child;
using shimtest::ChildResult;
using shimtest::ReadFile;
using shimtest::TempDir;

constexpr int kKeys = 64;
constexpr int kClients = 4;

// One connection to incr_server, requests one line at a time.
class IncrClient {
 public:
  explicit IncrClient(uint16_t port) : fd_(shimtest::ConnectLoopback(port, 10)) {}
  ~IncrClient() {
    if (fd_ >= 0) close(fd_);
  }
  IncrClient(const IncrClient&) = delete;
  IncrClient& operator=(const IncrClient&) = delete;
  bool ok() const { return fd_ >= 0; }
  // The answer to `request`, or -1 (the server went away, or answered
  // something else: last() says what).
  long Ask(const std::string& request) {
    const std::string line = request + "\n";
    last_ = "(send failed)";
    if (send(fd_, line.data(), line.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(line.size())) return -1;
    last_.clear();
    char c;
    ssize_t n;
    while ((n = read(fd_, &c, 1)) == 1) {
      if (c == '\n') return last_.empty() || last_[0] < '0' || last_[0] > '9' ? -1 : std::stol(last_);
      last_ += c;
    }
    last_ += n == 0 ? "(end of stream)" : std::string("(") + std::strerror(errno) + ")";
    return -1;
  }
  const std::string& last() const { return last_; }

 private:
  int fd_ = -1;
  std::string last_;
};

// Client threads INCRementing random keys until the server goes away;
// acked[k] is the highest value answered for key k. An answer not above the
// highest one answered before its request was sent is a regression.
class IncrLoad {
 public:
  IncrLoad(uint16_t port, std::array<long, kKeys>* acked, std::mutex* mu, uint64_t seed) {
    for (int i = 0; i < kClients; ++i)
      threads_.emplace_back([=, this] {
        std::mt19937_64 rng(seed + static_cast<uint64_t>(i));
        IncrClient c(port);
        while (c.ok() && !stop_.load()) {
          const int k = static_cast<int>(rng() % kKeys);
          long before;
          {
            std::lock_guard<std::mutex> g(*mu);
            before = (*acked)[k];
          }
          const long v = c.Ask("INCR " + std::to_string(k));
          if (v < 0) return;
          std::lock_guard<std::mutex> g(*mu);
          // Sent after `before` was answered: it must come after it.
          if (v <= before && regressions_++ == 0)
            first_regression_ = "INCR " + std::to_string(k) + " answered " + std::to_string(v) + " after " +
                                std::to_string(before) + " had been";
          (*acked)[k] = std::max((*acked)[k], v);
          ++answers_;
        }
      });
  }
  ~IncrLoad() { Join(); }
  void Join() {
    stop_.store(true);
    for (std::thread& t : threads_)
      if (t.joinable()) t.join();
  }
  uint64_t answers() const { return answers_.load(); }
  uint64_t regressions() const { return regressions_.load(); }
  const std::string& first_regression() const { return first_regression_; }  // after Join

 private:
  std::vector<std::thread> threads_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> answers_{0}, regressions_{0};
  std::string first_regression_;  // under the caller's mutex
};

// Waits (bounded) until the server on `port` answers a GET.
bool WaitForServer(uint16_t port, int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    IncrClient c(port);
    if (c.ok() && c.Ask("GET 0") >= 0) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

// Per key, the values the journal holds, in order.
std::map<int, std::vector<long>> ReadJournal(const std::string& path) {
  std::map<int, std::vector<long>> out;
  std::istringstream in(ReadFile(path));
  int k;
  long v;
  while (in >> k >> v) out[k].push_back(v);
  return out;
}

int KillsPerCase() {
  const char* v = std::getenv("RESPCT_INCR_CAMPAIGN_KILLS");
  return v != nullptr && std::atoi(v) > 0 ? std::atoi(v) : 25;
}

class IncrCampaign : public testing::TestWithParam<std::string> {};

TEST_P(IncrCampaign, NoAcknowledgedIncrementIsLostAcrossKills) {
  if (GetParam() == "rdma" && !test::HaveRdmaDevice())
    GTEST_SKIP() << "no RDMA device here: the rdma case runs in the QEMU guest tier (ctest -L rdma)";
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  test::MemnodeProcess mn(shimtest::MemnodeOptions());
  ASSERT_TRUE(shimtest::Started(mn));
  const std::string url = GetParam() == "shm" ? mn.shm_url() : GetParam() == "tcp" ? mn.tcp_url() : mn.rdma_url();
  const std::string app = shimtest::UniqueApp("incr-" + GetParam());
  const std::string journal = dir / "journal";
  const std::vector<std::string> prog = {INCR_SERVER, dir / "port", journal, "3"};
  auto proc = std::make_unique<Child>(dir.path(), "run", shimtest::RespctRun(url, mn.secret_path(), app, {}, prog));
  const uint16_t port = shimtest::WaitForPort(dir / "port");
  ASSERT_NE(port, 0) << proc->Wait().Describe();
  ASSERT_TRUE(WaitForServer(port, 30000));
  // A committed epoch of the listening server, so the first kill recovers.
  shimtest::WaitForEpochBeyond(mn, app, shimtest::CommittedEpoch(mn, app));

  std::mt19937_64 rng(std::random_device{}());
  const uint64_t seed = rng();
  std::array<long, kKeys> acked{};
  std::mutex mu;
  const int kills = KillsPerCase();
  uint64_t answers = 0, checked_keys = 0;
  double recovery_ms_max = 0;
  for (int kill_no = 1; kill_no <= kills; ++kill_no) {
    SCOPED_TRACE("kill " + std::to_string(kill_no) + " of " + std::to_string(kills) + ", seed " + std::to_string(seed));
    {
      IncrLoad load(port, &acked, &mu, seed + 1000u * static_cast<uint64_t>(kill_no));
      // Some answers first (a slow machine, the guest tier's TCG, takes
      // longer than the random delay to answer at all), then a random instant.
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
      while (load.answers() < 20 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      ASSERT_GE(load.answers(), 20u) << "the server answered fewer than 20 INCRs in 60 s";
      std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 300));
      proc->Kill();
      const ChildResult killed = proc->Wait();
      ASSERT_EQ(killed.signal, SIGKILL) << killed.Describe();
      load.Join();
      answers += load.answers();
      ASSERT_EQ(load.regressions(), 0u) << "an INCR was answered a value not above one answered before it was sent: "
                                        << load.first_regression();
    }
    const std::string tag = "recover" + std::to_string(kill_no);
    const auto t0 = std::chrono::steady_clock::now();
    proc = std::make_unique<Child>(dir.path(), tag, shimtest::RespctRecover(mn, url, app, prog));
    ASSERT_TRUE(WaitForServer(port, 60000)) << "the recovered server does not answer\n"
                                            << shimtest::Tail(ReadFile(dir / (tag + ".err")));
    recovery_ms_max = std::max(
        recovery_ms_max, std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    // What the recovered server holds, before any new increment.
    auto server_log = [&] {
      return std::string(proc->Exited() ? "\nthe recovered server has exited" : "") + "\n" +
             shimtest::Tail(ReadFile(dir / (tag + ".err"))) + shimtest::Tail(ReadFile(dir / (tag + ".out")));
    };
    const auto lines = ReadJournal(journal);
    IncrClient c(port);
    ASSERT_TRUE(c.ok()) << server_log();
    for (int k = 0; k < kKeys; ++k) {
      const long now = c.Ask("GET " + std::to_string(k));
      ASSERT_GE(now, 0) << "GET " << k << " got no answer: '" << c.last() << "'" << server_log();
      EXPECT_GE(now, acked[k]) << "key " << k << ": " << acked[k] << " was acknowledged before the kill, the "
                               << "recovered server has " << now;
      const auto it = lines.find(k);
      std::vector<long> expected(static_cast<size_t>(now));
      for (long v = 1; v <= now; ++v) expected[static_cast<size_t>(v - 1)] = v;
      EXPECT_EQ(it == lines.end() ? std::vector<long>{} : it->second, expected)
          << "key " << k << ": the journal is not 1.." << now;
      ++checked_keys;
    }
    if (HasFailure()) break;
  }
  proc->Signal(SIGTERM);
  const ChildResult end = proc->Wait();
  EXPECT_EQ(end.exit_code, 0) << end.Describe();
  EXPECT_NE(end.out.find("incr_server: served="), std::string::npos) << end.Describe();
  EXPECT_GT(answers, 0u);
  RecordProperty("kills", kills);
  RecordProperty("answers", static_cast<int>(answers));
  std::printf("incr campaign %s: %d kills, %llu increments acknowledged, %llu key checks, slowest recovery %.0f ms\n",
              GetParam().c_str(), kills, static_cast<unsigned long long>(answers),
              static_cast<unsigned long long>(checked_keys), recovery_ms_max);
}

INSTANTIATE_TEST_SUITE_P(Memnodes, IncrCampaign, testing::Values("shm", "tcp", "rdma"),
                         [](const testing::TestParamInfo<std::string>& i) { return i.param; });

}  // namespace
}  // namespace respct::outputtest
