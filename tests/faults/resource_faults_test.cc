// Resources running out at the memnode (issue 13 §4), with real processes:
//   MemnodeOutOfDescriptors  respct-memnode under a low RLIMIT_NOFILE, more
//                            connections opened than it has descriptors:
//                            it says so once (no line per failed accept, no
//                            busy loop), goes on serving the sessions it has,
//                            and accepts again once descriptors are free.
//   PoolTooSmallForANewApp   a program whose image does not fit the pool is
//                            refused with one line naming the pool and the
//                            sizes; the app already in the pool commits on.
//   EpochLargerThanItsRing   a program whose first epoch exceeds its log
//                            ring is told so once (what to change) and runs
//                            to its end; another app commits on meanwhile.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "runtime/transport/transport.h"
#include "tests/crash/example_cases.h"
#include "tests/shim/shim_test_util.h"

namespace respct::faulttest {
namespace {

size_t Count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
  return n;
}

// CPU time (user + system) the process has used, in clock ticks.
long CpuTicks(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  std::istringstream rest(stat.substr(stat.rfind(')') + 2));
  std::string field;
  long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stol(field);
    if (i == 15) stime = std::stol(field);
  }
  return utime + stime;
}

// A bare TCP connection to the memnode that never speaks: it holds one of
// the memnode's descriptors once accepted (up to its handshake timeout).
int ConnectRaw(uint16_t port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd >= 0 && connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

uint16_t PortOf(const std::string& tcp_url) { return static_cast<uint16_t>(std::stoi(tcp_url.substr(tcp_url.rfind(':') + 1))); }

TEST(ResourceFaults, MemnodeOutOfDescriptors) {
  test::MemnodeProcess::Options o = shimtest::MemnodeOptions();
  o.max_open_files = 48;
  test::MemnodeProcess mn(o);
  ASSERT_TRUE(shimtest::Started(mn));

  // An existing client: an admin session opened before the descriptors run out.
  auto admin = Transport::Connect(mn.tcp_url(), mn.secret(), shimtest::AdminSession(5000));
  ASSERT_TRUE(admin.ok()) << admin.status().ToString();

  // More connections than the memnode has descriptors (each accepted one
  // takes one; the rest wait in the listen backlog).
  std::vector<int> raw;
  for (int i = 0; i < 80; ++i) {
    const int fd = ConnectRaw(PortOf(mn.tcp_url()));
    ASSERT_GE(fd, 0) << "connect " << i;
    raw.push_back(fd);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (Count(shimtest::ReadFile(mn.dir() + "/memnode.log"), "Too many open files") == 0 &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_GE(Count(shimtest::ReadFile(mn.dir() + "/memnode.log"), "Too many open files"), 1u)
      << "the memnode never ran out of descriptors: " << mn.LogTail();

  // Out of descriptors for 2 s: quiet and idle, and still serving.
  const long cpu_before = CpuTicks(mn.pid());
  std::this_thread::sleep_for(std::chrono::seconds(2));
  const long cpu_used = CpuTicks(mn.pid()) - cpu_before;
  EXPECT_LT(cpu_used, sysconf(_SC_CLK_TCK) / 5) << "the memnode spun while out of descriptors (ticks in 2 s)";
  const std::string log = shimtest::ReadFile(mn.dir() + "/memnode.log");
  EXPECT_EQ(Count(log, "Too many open files"), 1u) << "one line per episode expected:\n" << shimtest::Tail(log, 20);
  auto apps = (*admin)->ListApps();
  EXPECT_TRUE(apps.ok()) << "an open session stopped being served: " << apps.status().ToString();

  // Descriptors freed: new clients are accepted again.
  for (int fd : raw) close(fd);
  auto again = Transport::Connect(mn.tcp_url(), mn.secret(), shimtest::AdminSession(10000));
  ASSERT_TRUE(again.ok()) << again.status().ToString() << "\n" << mn.LogTail();
  EXPECT_TRUE((*again)->ListApps().ok());
  // The backlog's connections, closed by now, are still accepted one by one
  // before ours and may run the memnode out once more: every episode, however
  // many, is one line when it starts and one when it ends.
  const std::string after = shimtest::ReadFile(mn.dir() + "/memnode.log");
  EXPECT_GE(Count(after, "accepting connections again"), 1u) << mn.LogTail();
  EXPECT_EQ(Count(after, "accepting connections again"), Count(after, "Too many open files")) << shimtest::Tail(after, 20);
}

using shimtest::Child;
using shimtest::ChildResult;

// bank in the crash tests' small layout, running for a few seconds.
std::vector<std::string> SmallBank() {
  return {BANK_BIN, "--threads", "2", "--transfers", "1000000", "--work-ns", "2000", "--report-ms", "20"};
}

// Waits (bounded) for `app` to commit three epochs beyond what it has now.
testing::AssertionResult CommitsGoOn(const test::MemnodeProcess& mn, const std::string& app) {
  const uint64_t now = shimtest::CommittedEpoch(mn, app);
  const uint64_t seen = shimtest::WaitForEpoch(mn, app, now + 3, std::chrono::seconds(30));
  if (seen >= now + 3) return testing::AssertionSuccess();
  return testing::AssertionFailure() << "app '" << app << "' stuck at epoch " << seen << ": " << mn.LogTail();
}

void ExpectOkEnd(Child* c, const std::string& out_path) {
  ChildResult r = c->Wait();
  r.out = shimtest::ReadFile(out_path);
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_NE(r.out.find(" ok"), std::string::npos) << r.Describe();
}

TEST(ResourceFaults, PoolTooSmallForANewApp) {
  shimtest::TempDir dir;
  test::MemnodeProcess::Options o = shimtest::MemnodeOptions();
  o.pool_size = "256M";
  test::MemnodeProcess mn(o);
  ASSERT_TRUE(shimtest::Started(mn));
  const std::string small = shimtest::UniqueApp("small");
  Child a(dir.path(), "small", shimtest::RespctRun(mn.tcp_url(), mn.secret_path(), small, crashtest::kSmallImage,
                                                   SmallBank()));
  ASSERT_GE(shimtest::WaitForEpoch(mn, small, 3, std::chrono::seconds(60)), 3u) << mn.LogTail();

  // The default layout (a 1 GiB heap, 64 threads of 2 MiB) needs more than the pool has.
  const std::string big = shimtest::UniqueApp("big");
  const ChildResult b = shimtest::RunChild(dir.path(), "big", shimtest::RespctRun(mn.tcp_url(), mn.secret_path(), big,
                                                                                   {}, SmallBank()));
  EXPECT_EQ(b.exit_code, 70) << b.Describe();
  EXPECT_NE(b.err.find("pool " + mn.pool_path() + " is full: app '" + big + "' needs "), std::string::npos)
      << b.Describe();
  EXPECT_NE(b.err.find(" MiB free"), std::string::npos) << b.Describe();
  EXPECT_EQ(shimtest::Lines(b.err).size(), 1u) << "one line expected: " << b.Describe();
  EXPECT_TRUE(b.out.empty()) << "the program ran: " << b.Describe();

  EXPECT_TRUE(CommitsGoOn(mn, small));
  ExpectOkEnd(&a, dir / "small.out");
}

TEST(ResourceFaults, EpochLargerThanItsRing) {
  shimtest::TempDir dir;
  test::MemnodeProcess mn(shimtest::MemnodeOptions());
  ASSERT_TRUE(shimtest::Started(mn));
  const std::string other = shimtest::UniqueApp("other");
  Child a(dir.path(), "other", shimtest::RespctRun(mn.tcp_url(), mn.secret_path(), other, crashtest::kSmallImage,
                                                   SmallBank()));
  ASSERT_GE(shimtest::WaitForEpoch(mn, other, 3, std::chrono::seconds(60)), 3u) << mn.LogTail();

  // 500 000 accounts (about 20 MB, all written before the first epoch) in a
  // 16 MiB ring, the smallest there is.
  const std::string wide = shimtest::UniqueApp("wide");
  const ChildResult w = shimtest::RunChild(
      dir.path(), "wide",
      shimtest::RespctRun(mn.tcp_url(), mn.secret_path(), wide,
                          {"--ring-size", "16M", "--heap-size", "128M", "--max-threads", "16", "--stack-size", "256K"},
                          {BANK_BIN, "--transfers", "100000", "--accounts", "500000"}));
  EXPECT_EQ(w.exit_code, 0) << "the program did not run to its end: " << w.Describe();
  EXPECT_NE(w.out.find(" ok"), std::string::npos) << w.Describe();
  EXPECT_EQ(Count(w.err, "cannot be committed"), 1u) << w.Describe();
  EXPECT_NE(w.err.find("does not fit the ring of 16777216 bytes"), std::string::npos) << w.Describe();
  EXPECT_NE(w.err.find("larger --ring-size"), std::string::npos) << w.Describe();

  // The memnode serves the other app as before.
  EXPECT_TRUE(CommitsGoOn(mn, other));
  ExpectOkEnd(&a, dir / "other.out");
}

}  // namespace
}  // namespace respct::faulttest
