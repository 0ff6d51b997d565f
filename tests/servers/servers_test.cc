// Debian's memcached (-t 4) and redis-server, unmodified, under respct-run:
// client threads set keys, the server is killed with kill -9 while they do,
// respct-recover resumes it, and the recovered server must hold every key
// acknowledged before the epoch it resumed (server_harness.h says how that
// is decided and why it is sound), with its value, and nothing that was
// never sent; its own count (curr_items, DBSIZE) must agree, it must accept
// new connections and answer stats / PING. Then the recovered server is
// loaded, killed and recovered again, and all of the first round's keys
// must still be there. Over the embedded memnode (shm) and a separate
// respct-memnode (tcp). Skipped when the server is not installed
// (tools/install-deps.sh installs both).
#include <signal.h>

#include <chrono>
#include <iostream>
#include <memory>
#include <random>
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

using Param = ServerCase;

class ServerRecoveryTest : public testing::TestWithParam<Param> {};

std::vector<std::string> Flags(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// Waits (bounded) until the load acknowledged `keys` sets and the app committed beyond `epoch`.
bool WaitForLoad(const Load& load, size_t keys, const EpochSampler& sampler, uint64_t epoch, int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (load.acked() < keys || sampler.latest() <= epoch) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

TEST_P(ServerRecoveryTest, KilledTwiceUnderLoadKeepsAcknowledgedKeys) {
  const ServerKind kind = GetParam().server;
  const std::string binary = ServerBinary(kind);
  if (binary.empty()) GTEST_SKIP() << ServerName(kind) << " is not installed (tools/install-deps.sh installs it)";
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  TestMemnode mn(GetParam().memnode, dir.path());
  ASSERT_TRUE(mn.Start());
  // A port the kernel just handed out and nobody listens on: parallel runs never pick the same.
  const uint16_t port = test::FreeLoopbackPort();
  const std::string app = shimtest::UniqueApp(ServerName(kind));
  const std::vector<std::string> server = ServerArgv(kind, binary, port);
  auto proc = std::make_unique<Child>(dir.path(), "run", mn.RunArgv(app, Flags({"--fresh"}, GetParam().OutputCommitFlags()), server), mn.ChildEnv(240));
  ASSERT_TRUE(WaitForListener(port, 30000)) << "the server did not listen under respct-run"
                                            << ReadFile(dir / "run.err");
  ASSERT_TRUE(mn.WaitReady());
  EpochSampler sampler(mn.url(), mn.secret(), app);
  std::mt19937 rng(std::random_device{}());

  std::vector<KeyRecord> kept;  // keys found by the previous recovery: the later images keep them
  uint64_t resumed = 0;
  for (int round = 1; round <= 2; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    Load load(kind, port, "r" + std::to_string(round) + "-", 4);
    // At least 20 epochs of the current process and 2000 keys, then a random instant.
    ASSERT_TRUE(WaitForLoad(load, 2000, sampler, resumed + 20, 60000))
        << "load: " << load.acked() << " keys acknowledged, committed epoch " << sampler.latest() << mn.LogTail();
    std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 300)(rng)));
    proc->Signal(SIGKILL);
    const ChildResult killed = proc->Wait();
    ASSERT_EQ(killed.signal, SIGKILL) << killed.Describe();
    load.Stop();

    const std::string tag = "recover" + std::to_string(round);
    proc = std::make_unique<Child>(dir.path(), tag, mn.RecoverArgv(app, server, GetParam().OutputCommitFlags()), mn.ChildEnv(240));
    ASSERT_TRUE(WaitForListener(port, 60000)) << "the recovered server does not accept connections\n"
                                              << shimtest::Tail(ReadFile(dir / (tag + ".err")));
    resumed = ResumedEpoch(ReadFile(dir / (tag + ".err")));
    ASSERT_GT(resumed, 0u) << ReadFile(dir / (tag + ".err"));

    const VerifyResult v = Verify(kind, port, load.Records(), load.NeverSent(), sampler, resumed, GetParam().output_commit, kept);
    std::cout << ServerName(kind) << " round " << round << ": resumed epoch " << resumed << "; " << v.Describe()
              << "\n";
    EXPECT_TRUE(v.ok()) << v.Describe() << "\n" << shimtest::Tail(ReadFile(dir / (tag + ".err")));
    EXPECT_GT(v.required, 0u) << "no key was old enough to be required: the check was empty";
    EXPECT_TRUE(Answers(kind, port));
    const std::vector<KeyRecord> found = PresentKeys(kind, port, load.Records());
    kept.insert(kept.end(), found.begin(), found.end());
  }

  // And it still stops as it should.
  proc->Signal(SIGTERM);
  const ChildResult end = proc->Wait();
  EXPECT_FALSE(end.timed_out) << end.Describe();
}

INSTANTIATE_TEST_SUITE_P(Servers, ServerRecoveryTest, AllServerCases(), ServerCaseName);
// The weaker rule of a server whose replies are not held, kept checked on one case.
INSTANTIATE_TEST_SUITE_P(Unheld, ServerRecoveryTest,
                         testing::Values(ServerCase{ServerKind::kMemcached, MemnodeKind::kEmbeddedShm, false}),
                         ServerCaseName);

}  // namespace
}  // namespace respct::servertest
