// The crash campaign: each example (bank, kvstore, pipeline) over each
// transport (shm, tcp), against a memnode of the test's own, is killed with
// kill -9 at seeded random instants, recovered with respct-recover, killed
// again, ... (see crash_campaign.h) and must end with the digest of an
// uninterrupted native run, progress never going backwards, no recovery
// refused. The campaign's counts go to standard output as one
// "crash-campaign: ..." line, which tools/crash-campaign collects.
//
// CI sizes: 17 kills per case (102 over the matrix), kills 50..1500 ms after
// each (re)start, small workloads and a small image (64 MiB heap, 16 threads
// of 256 KiB stacks) so that fetching it stays short. Environment overrides
// (tools/crash-campaign sets them): RESPCT_CRASH_KILLS, RESPCT_CRASH_MIN_MS,
// RESPCT_CRASH_MAX_MS, RESPCT_CRASH_SEED.
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>

#include <gtest/gtest.h>

#include "tests/crash/crash_campaign.h"
#include "tests/crash/example_cases.h"
#include "tests/shim/shim_test_util.h"

namespace respct::crashtest {
namespace {

uint64_t EnvOr(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::strtoull(v, nullptr, 10) : fallback;
}

class CrashCampaign : public testing::TestWithParam<std::tuple<Example, std::string>> {};

TEST_P(CrashCampaign, KillRecoverRepeatedlyThenNativeResult) {
  const auto& [example, transport] = GetParam();
  shimtest::TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  test::MemnodeProcess mn(shimtest::MemnodeOptions());
  ASSERT_TRUE(shimtest::Started(mn));

  std::vector<std::string> native_argv = {example.binary};
  native_argv.insert(native_argv.end(), example.args.begin(), example.args.end());
  const shimtest::ChildResult native = shimtest::RunChild(dir.path(), "native", native_argv);
  ASSERT_EQ(native.exit_code, 0) << native.Describe();
  const auto native_line = shimtest::DigestLine(example.name, native.out);
  ASSERT_TRUE(native_line) << "no digest line in the native run" << native.Describe();

  CampaignOptions o;
  o.example = example;
  o.run_bin = RESPCT_RUN_BIN;
  o.recover_bin = RESPCT_RECOVER_BIN;
  o.memnode_url = transport == "shm" ? mn.shm_url() : mn.tcp_url();
  o.secret_file = mn.secret_path();
  o.secret = mn.secret();
  o.app = shimtest::UniqueApp(example.name);
  o.work_dir = dir.path();
  o.native_digest_line = *native_line;
  o.layout = kSmallImage;
  o.kills = static_cast<unsigned>(EnvOr("RESPCT_CRASH_KILLS", 17));
  o.min_kill_ms = static_cast<unsigned>(EnvOr("RESPCT_CRASH_MIN_MS", 50));
  o.max_kill_ms = static_cast<unsigned>(EnvOr("RESPCT_CRASH_MAX_MS", 1500));
  // Each case its own sequence, reproducible from the printed seed.
  o.seed = EnvOr("RESPCT_CRASH_SEED", 20261128) ^ std::hash<std::string>{}(example.name + "/" + transport);

  const CampaignResult r = RunCampaign(o);
  std::printf("crash-campaign: example=%s transport=%s seed=%llu %s\n", example.name.c_str(), transport.c_str(),
              static_cast<unsigned long long>(o.seed), r.Summary().c_str());
  std::fflush(stdout);
  for (const std::string& f : r.failures) ADD_FAILURE() << f << "\nmemnode: " << mn.LogTail();
  EXPECT_EQ(r.kills, o.kills);
  EXPECT_GE(r.completions, 1u);
  // Killing only before the first commit would prove nothing about recovery.
  EXPECT_GT(r.recoveries, 0u) << r.Summary();
}

INSTANTIATE_TEST_SUITE_P(Matrix, CrashCampaign,
                         testing::Combine(testing::ValuesIn(CampaignExamples()), testing::Values("shm", "tcp")),
                         [](const testing::TestParamInfo<CrashCampaign::ParamType>& info) {
                           return std::get<0>(info.param).name + "_" + std::get<1>(info.param);
                         });

}  // namespace
}  // namespace respct::crashtest
