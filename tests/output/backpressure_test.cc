// Back-pressure and order of held output with non-blocking sockets and epoll
// (held_output.h): stream_server writes 64 MiB of numbered records to one
// client through a non-blocking socket driven by epoll, level- or
// edge-triggered, or with sendfile(2) from a file (whose bytes the hold
// reads and keeps like a write's), far more than a descriptor may hold (4 MiB), so its writes
// wait for room again and again. The client must receive every record, in
// order, then the end of the stream (the held shutdown and close come after
// the bytes), and the server must end on its own: an EAGAIN from the hold
// would leave the edge-triggered server waiting for an edge the kernel never
// sends (its socket buffer is empty) and the level-triggered one spinning.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "harness/memnode_process.h"
#include "tests/shim/count_client.h"
#include "tests/shim/shim_test_util.h"

namespace respct::outputtest {
namespace {

using shimtest::Child;
using shimtest::ChildResult;
using shimtest::TempDir;

constexpr long kRecords = 1 << 20;  // 64 MiB of 64-byte records

class Backpressure : public testing::TestWithParam<std::string> {};

TEST_P(Backpressure, EveryRecordArrivesInOrderThenTheEnd) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  test::MemnodeProcess mn(shimtest::MemnodeOptions());
  ASSERT_TRUE(shimtest::Started(mn));
  const std::string stats = dir / "stats.json";
  Child server(dir.path(), "run",
               shimtest::RespctRun(mn.shm_url(), mn.secret_path(), shimtest::UniqueApp("stream-" + GetParam()),
                                   {"--stats=json", "--stats-file", stats},
                                   {STREAM_SERVER, dir / "port", std::to_string(kRecords), GetParam()}));
  const uint16_t port = shimtest::WaitForPort(dir / "port");
  ASSERT_NE(port, 0) << server.Wait().Describe();
  const int fd = shimtest::ConnectLoopback(port, 30);
  ASSERT_GE(fd, 0);
  std::vector<char> buf(1 << 20);
  std::string partial;
  long next = 0;
  bool in_order = true, eof = false;
  for (;;) {
    const ssize_t n = read(fd, buf.data(), buf.size());
    if (n == 0) {
      eof = true;
      break;
    }
    if (n < 0) break;  // the 30 s receive timeout: a stall
    partial.append(buf.data(), static_cast<size_t>(n));
    size_t at = 0;
    for (; at + 64 <= partial.size(); at += 64) {
      if (in_order && std::strtol(partial.c_str() + at, nullptr, 10) != next) in_order = false;
      ++next;
    }
    partial.erase(0, at);
  }
  close(fd);
  EXPECT_TRUE(eof) << "no end of stream within 30 s of the last bytes (a stall); " << next << " records came";
  EXPECT_TRUE(in_order) << "records out of order";
  EXPECT_EQ(next, kRecords);
  EXPECT_TRUE(partial.empty());
  const ChildResult r = server.Wait();
  EXPECT_EQ(r.exit_code, 0) << r.Describe();
  EXPECT_NE(r.out.find("stream_server: sent=" + std::to_string(kRecords) + " ok"), std::string::npos) << r.Describe();
  // The bound was reached: writes waited for room.
  const auto waits = shimtest::JsonUint(shimtest::ReadFile(stats), "waits");
  ASSERT_TRUE(waits.has_value()) << shimtest::ReadFile(stats).substr(0, 400);
  EXPECT_GE(*waits, 1u);
}

INSTANTIATE_TEST_SUITE_P(Triggers, Backpressure, testing::Values("lt", "et", "sendfile"),
                         [](const testing::TestParamInfo<std::string>& i) { return i.param; });

}  // namespace
}  // namespace respct::outputtest
