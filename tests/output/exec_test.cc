// Held output at an exec (output_calls.h): the program that follows runs
// without respct, so what the old one held must go out before it replaces
// it; the new program inherits the connection and keeps it open a while.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include <gtest/gtest.h>

#include "harness/memnode_process.h"
#include "tests/shim/shim_test_util.h"

namespace respct::outputtest {
namespace {

TEST(HeldOutputAtExec, GoesOutBeforeTheNewProgram) {
  shimtest::TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  test::MemnodeProcess mn(shimtest::MemnodeOptions());
  ASSERT_TRUE(shimtest::Started(mn));
  const int l = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t alen = sizeof a;
  ASSERT_EQ(bind(l, reinterpret_cast<sockaddr*>(&a), alen), 0);
  ASSERT_EQ(listen(l, 1), 0);
  ASSERT_EQ(getsockname(l, reinterpret_cast<sockaddr*>(&a), &alen), 0);
  // A long epoch, so that only the exec can have sent the line in time.
  shimtest::Child sender(dir.path(), "run",
                         {RESPCT_RUN_BIN, "--memnode", mn.shm_url(), "--secret-file", mn.secret_path(), "--app",
                          shimtest::UniqueApp("exec"), "--epoch-ms", "60000", "--", EXEC_SENDER,
                          std::to_string(ntohs(a.sin_port)), "/bin/sleep", "5"});
  pollfd p{l, POLLIN, 0};
  ASSERT_EQ(poll(&p, 1, 30000), 1) << "exec_sender never connected";
  const int c = accept(l, nullptr, nullptr);
  ASSERT_GE(c, 0);
  std::string got;
  char buf[256];
  p = pollfd{c, POLLIN, 0};
  while (got.find('\n') == std::string::npos && poll(&p, 1, 3000) == 1) {
    const ssize_t n = read(c, buf, sizeof buf);
    if (n <= 0) break;
    got.append(buf, static_cast<size_t>(n));
  }
  EXPECT_EQ(got, "sent before the exec\n") << "the held line did not go out before the exec";
  close(c);
  close(l);
  sender.Kill();
}

}  // namespace
}  // namespace respct::outputtest
