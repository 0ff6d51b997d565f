// Recovery refuses a program that changed since its image was taken: bank is
// run under respct-run from a copy, killed, the copy is replaced by
// bank_variant (the same source plus one constant: another build-id), and
// respct-recover must exit 70 saying the program changed, without running it.
#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "tests/crash/committed_image.h"
#include "tests/crash/example_cases.h"
#include "tests/shim/shim_test_util.h"

namespace respct::crashtest {
namespace {

TEST(ChangedBinary, RecoveryRefusesWithExit70) {
  shimtest::TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  test::MemnodeProcess mn(shimtest::MemnodeOptions());
  ASSERT_TRUE(shimtest::Started(mn));
  const std::string prog = dir / "bank";
  std::filesystem::copy_file(BANK_BIN, prog);
  const std::string app = shimtest::UniqueApp("changed");
  auto command = [&](const char* tool, const std::vector<std::string>& flags) {
    std::vector<std::string> argv = {tool, "--memnode", mn.shm_url(), "--secret-file", mn.secret_path(), "--app", app};
    argv.insert(argv.end(), flags.begin(), flags.end());
    for (const char* a : {"--", prog.c_str(), "--transfers", "5000000", "--work-ns", "100"}) argv.push_back(a);
    return argv;
  };
  shimtest::ChildOptions co;
  co.env.emplace_back("RESPCT_STATE_DIR", dir.path());
  std::vector<std::string> flags = kSmallImage;
  flags.insert(flags.begin(), "--fresh");
  {
    shimtest::Child run(dir.path(), "run", command(RESPCT_RUN_BIN, flags), co);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (CommittedEpochNow(mn.shm_url(), mn.secret(), app) < 2) {
      ASSERT_FALSE(run.Exited()) << "bank ended before it committed two epochs";
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "no commit in 60 s; memnode: " << mn.LogTail();
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    run.Kill();
  }
  std::filesystem::copy_file(BANK_VARIANT_BIN, prog, std::filesystem::copy_options::overwrite_existing);

  const shimtest::ChildResult r = shimtest::RunChild(dir.path(), "recover", command(RESPCT_RECOVER_BIN, {}), co);
  EXPECT_EQ(r.exit_code, 70) << r.Describe();
  EXPECT_NE(r.err.find("the program changed since the image was taken"), std::string::npos) << r.Describe();
  EXPECT_EQ(r.out.find("bank:"), std::string::npos) << "the changed program ran" << r.Describe();
}

}  // namespace
}  // namespace respct::crashtest
