// Memory beyond the malloc heap, kept across kill -9 (runtime/core/
// anonymous_maps.h): mmap_prog's own mappings (pieces left by munmap, a
// mapping moved by mremap, a range given back with MADV_DONTNEED, the program
// break) and CPython's object arenas, which it maps itself. Each program
// checks its memory at every round, so a page lost or stale after a recovery
// fails it; each is killed, recovered, killed again and recovered to the end.
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "tests/shim/shim_test_util.h"

namespace respct::shimtest {
namespace {

// Runs `prog` under respct, kills it after a few committed epochs, recovers
// it and kills it again once the recovered process has committed and shown
// progress of its own, then recovers it to the end; `done` is its final line.
void SurvivesTwoKills(const std::string& transport, const std::string& stem, const std::vector<std::string>& prog,
                      const std::string& done) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  test::MemnodeProcess mn(MemnodeOptions());
  ASSERT_TRUE(Started(mn));
  const std::string url = transport == "shm" ? mn.shm_url() : mn.tcp_url();
  const std::string app = UniqueApp(stem);

  Child first(dir.path(), "first", RespctRun(url, mn.secret_path(), app, {}, prog));
  const uint64_t e1 = WaitForEpochBeyond(mn, app, 0);
  first.Signal(SIGKILL);
  const ChildResult r1 = first.Wait();
  ASSERT_EQ(r1.signal, SIGKILL) << "the program ended before it could be killed: " << r1.Describe();
  ASSERT_GT(e1, 2u) << mn.LogTail();

  const uint64_t recovered_at = CommittedEpoch(mn, app);
  Child second(dir.path(), "second", RespctRecover(mn, url, app, prog));
  const uint64_t e2 = WaitForEpochBeyond(mn, app, recovered_at);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (FirstProgress(ReadFile(dir / "second.out")) < 0 && std::chrono::steady_clock::now() < deadline &&
         !second.Exited())
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  second.Signal(SIGKILL);
  const ChildResult r2 = second.Wait();
  ASSERT_EQ(r2.signal, SIGKILL) << "the recovered program ended before it could be killed: " << r2.Describe();
  EXPECT_GT(e2, recovered_at) << "the recovered process did not keep checkpointing" << r2.Describe();
  EXPECT_GT(FirstProgress(r2.out), 0) << "the recovered run did not go on from the image's progress" << r2.Describe();

  const ChildResult r3 = RunChild(dir.path(), "third", RespctRecover(mn, url, app, prog));
  ASSERT_EQ(r3.exit_code, 0) << r3.Describe();
  EXPECT_NE(r3.out.find(done), std::string::npos) << r3.Describe();
  EXPECT_GT(FirstProgress(r3.out), 0) << r3.Describe();
}

class MemoryTest : public testing::TestWithParam<const char*> {};

TEST_P(MemoryTest, MappedMemorySurvivesTwoKills) {
  // About 3 s natively on this kind of machine.
  SurvivesTwoKills(GetParam(), "mmap", {MMAP_PROG, "3", "20000"}, "mmap_prog: total=60000 ok");
}

TEST_P(MemoryTest, PythonThreadsSurviveTwoKills) {
  if (access("/usr/bin/python3", X_OK) != 0) GTEST_SKIP() << "/usr/bin/python3 is not installed";
  SurvivesTwoKills(GetParam(), "python", {"/usr/bin/python3", THREADS_COUNT_PY, "2500"},
                   "threads_count: total=5000 ok");
}

INSTANTIATE_TEST_SUITE_P(Transports, MemoryTest, testing::Values("shm", "tcp"),
                         [](const testing::TestParamInfo<const char*>& i) { return std::string(i.param); });

}  // namespace
}  // namespace respct::shimtest
