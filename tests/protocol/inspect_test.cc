// respct-inspect against a live memnode (admin session) and offline on its
// pool file: the table, --json, --app, and one-line errors.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <string>

#include "tests/protocol/image_model.h"
#include "tests/protocol/protocol_env.h"

namespace respct::test {
namespace {

struct ToolRun {
  int exit_code;
  std::string out;  // stdout and stderr
};

ToolRun Inspect(const std::string& args) {
  const std::string cmd = std::string(RESPCT_INSPECT_BIN) + " " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  ToolRun r{-1, {}};
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) r.out.append(buf, n);
  const int st = pclose(p);
  r.exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

class InspectTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::vector<RegionSpec> regions = {{1, 1 << 20, 0}, {2, 12288, 0}};
    auto w = Transport::Connect(Memnode().shm_url(), Memnode().secret(), AppOptions("inspect-bank", regions, true));
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    uint8_t b[100] = {};
    for (uint64_t e = 1; e <= 3; ++e) {
      ASSERT_TRUE((*w)->Append(e, 1, e * 100, b, sizeof b).ok());
      ASSERT_TRUE((*w)->Commit(e).ok());
    }
    writer_ = std::move(*w).release();
  }
  static void TearDownTestSuite() { delete writer_; }
  static Transport* writer_;
};
Transport* InspectTest::writer_ = nullptr;

TEST_F(InspectTest, LiveTableShowsTheApp) {
  const ToolRun r = Inspect("--memnode " + Memnode().tcp_url() + " --secret-file " + Memnode().secret_path());
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("APP"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("inspect-bank"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("yes"), std::string::npos) << r.out;  // writer attached
}

TEST_F(InspectTest, LiveJsonForOneApp) {
  const ToolRun r = Inspect("--memnode " + Memnode().shm_url() + " --secret-file " + Memnode().secret_path() +
                        " --app inspect-bank --json");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("\"name\": \"inspect-bank\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"committed_epoch\": 3"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"regions\": 2"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"writer_attached\": true"), std::string::npos) << r.out;
}

TEST_F(InspectTest, OfflinePool) {
  const ToolRun r = Inspect("--pool " + Memnode().pool_path() + " --app inspect-bank --json");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("\"committed_epoch\": 3"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"writer_attached\": null"), std::string::npos) << r.out;
}

TEST_F(InspectTest, ErrorsAreOneLineAndNonZero) {
  const ToolRun missing = Inspect("--memnode " + Memnode().tcp_url() + " --secret-file " + Memnode().secret_path() +
                              " --app no-such-app");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_EQ(missing.out, "respct-inspect: no app 'no-such-app' in memnode " + Memnode().tcp_url() + "\n");
  const ToolRun down = Inspect("--memnode tcp://127.0.0.1:1 --secret-file " + Memnode().secret_path());
  EXPECT_EQ(down.exit_code, 1);
  EXPECT_EQ(down.out, "respct-inspect: memnode at tcp://127.0.0.1:1 unreachable: Connection refused\n");
  const ToolRun nopool = Inspect("--pool /nonexistent/pool");
  EXPECT_EQ(nopool.exit_code, 1);
  EXPECT_EQ(std::count(nopool.out.begin(), nopool.out.end(), '\n'), 1) << nopool.out;
  const ToolRun both = Inspect("--pool /x --memnode tcp://127.0.0.1:1");
  EXPECT_EQ(both.exit_code, 2) << both.out;
}

TEST_F(InspectTest, HelpDescribesColumnsAndExitStatus) {
  const ToolRun r = Inspect("--help");
  EXPECT_EQ(r.exit_code, 0);
  for (const char* s :
       {"--memnode", "--pool", "--app", "--secret-file", "--json", "COLUMNS", "EXIT STATUS", "FDS (--fds)", "interest lists"})
    EXPECT_NE(r.out.find(s), std::string::npos) << s;
}

}  // namespace
}  // namespace respct::test
