// Resources running out at the memnode (issue 13 §4), with real processes:
//   MemnodeOutOfDescriptors  respct-memnode under a low RLIMIT_NOFILE, more
//                            connections opened than it has descriptors:
//                            it says so once (no line per failed accept, no
//                            busy loop), goes on serving the sessions it has,
//                            and accepts again once descriptors are free.
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
  EXPECT_EQ(Count(shimtest::ReadFile(mn.dir() + "/memnode.log"), "accepting connections again"), 1u) << mn.LogTail();
}

}  // namespace
}  // namespace respct::faulttest
