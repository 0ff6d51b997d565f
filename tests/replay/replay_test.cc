// respct-inspect as the replay tool, on real programs killed -9 under
// respct-run against a real memnode:
//   bank (4 transfer threads, a checker, main; --heap-size 64M): --epochs
//   lists increasing epochs with commit times and the image's thread count;
//   --threads backtraces name transfer_loop, checker and main; --diff finds
//   changed heap lines; --extract writes region files and a manifest that
//   match the image byte for byte (heap compared with ReadImage). Live and
//   offline (--pool) agree.
//   spin_prog (threads that only the checkpoint signal stops): a thread
//   parked by the signal unwinds through the signal frame into spin_work.
// Errors: other epochs refused, one line, exit 1.
#include <sys/stat.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "runtime/core/layout.h"
#include "tests/shim/shim_test_util.h"

namespace respct::shimtest {
namespace {

struct ToolRun {
  int exit_code;
  std::string out;  // stdout
  std::string err;
};

ToolRun Inspect(const std::string& dir, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {RESPCT_INSPECT_BIN};
  argv.insert(argv.end(), args.begin(), args.end());
  const ChildResult r = RunChild(dir, "inspect", argv);
  return ToolRun{r.exit_code, r.out, r.err};
}

std::vector<uint64_t> AllUints(const std::string& json, const std::string& key) {
  const std::regex field("\"" + key + "\": ([0-9]+)");
  std::vector<uint64_t> out;
  for (auto it = std::sregex_iterator(json.begin(), json.end(), field); it != std::sregex_iterator(); ++it)
    out.push_back(std::stoull((*it)[1].str()));
  return out;
}

// The committed epoch of `app` as an admin session sees it (0 if unknown).
uint64_t CommittedEpoch(const test::MemnodeProcess& mn, const std::string& app) {
  auto admin = Transport::Connect(mn.shm_url(), mn.secret(), AdminSession(5000));
  if (!admin.ok()) return 0;
  auto apps = (*admin)->ListApps();
  if (!apps.ok()) return 0;
  for (const wire::AppSummary& a : *apps)
    if (app == a.name) return a.committed_epoch;
  return 0;
}

// Runs `program` under respct-run until the memnode has `epochs` committed
// epochs of it, then kills it with SIGKILL (the Child's destructor).
testing::AssertionResult RunUntilEpochs(const std::string& dir, const test::MemnodeProcess& mn,
                                        const std::string& app, const std::vector<std::string>& program,
                                        uint64_t epochs) {
  Child child(dir, app, RespctRun(mn.shm_url(), mn.secret_path(), app, {"--heap-size", "64M"}, program));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(90);
  while (CommittedEpoch(mn, app) < epochs) {
    if (std::chrono::steady_clock::now() > deadline)
      return testing::AssertionFailure() << app << " did not reach epoch " << epochs << " in 90 s";
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return testing::AssertionSuccess();
}

class ReplayTest : public testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    mn_ = new test::MemnodeProcess(MemnodeOptions());
    ASSERT_TRUE(Started(*mn_));
    bank_ = UniqueApp("bank");
    spin_ = UniqueApp("spin");
    // Long enough to run for minutes: it is killed well before.
    ASSERT_TRUE(RunUntilEpochs(dir_->path(), *mn_, bank_,
                               {BANK_BIN, "--transfers", "100000000", "--work-ns", "100"}, 30));
    ASSERT_TRUE(RunUntilEpochs(dir_->path(), *mn_, spin_, {SPIN_PROG}, 10));
  }
  static void TearDownTestSuite() {
    delete mn_;
    delete dir_;
  }
  static std::vector<std::string> Live(const std::string& app, std::vector<std::string> args) {
    args.insert(args.begin(), {"--memnode", mn_->shm_url(), "--secret-file", mn_->secret_path(), "--app", app});
    return args;
  }
  static std::vector<std::string> Offline(const std::string& app, std::vector<std::string> args) {
    args.insert(args.begin(), {"--pool", mn_->pool_path(), "--app", app});
    return args;
  }
  static uint64_t BankEpoch() { return CommittedEpoch(*mn_, bank_); }

  static TempDir* dir_;
  static test::MemnodeProcess* mn_;
  static std::string bank_, spin_;
};
TempDir* ReplayTest::dir_ = nullptr;
test::MemnodeProcess* ReplayTest::mn_ = nullptr;
std::string ReplayTest::bank_, ReplayTest::spin_;

TEST_F(ReplayTest, EpochsIncreaseWithCommitTimesAndTheImageThreadCount) {
  const ToolRun r = Inspect(dir_->path(), Live(bank_, {"--epochs", "--json"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::vector<uint64_t> epochs = AllUints(r.out, "epoch");
  const std::vector<uint64_t> times = AllUints(r.out, "commit_unix_ns");
  ASSERT_GE(epochs.size(), 30u) << r.out;
  ASSERT_EQ(times.size(), epochs.size());
  for (size_t i = 1; i < epochs.size(); ++i) {
    EXPECT_EQ(epochs[i], epochs[i - 1] + 1) << r.out;
    EXPECT_GE(times[i], times[i - 1]) << r.out;
    EXPECT_GT(times[i], 1'600'000'000'000'000'000ull) << "not a unix time in ns";
  }
  EXPECT_EQ(epochs.back(), BankEpoch());
  // main, the checker and 4 transfer threads.
  EXPECT_EQ(AllUints(r.out, "image_threads"), std::vector<uint64_t>{6}) << r.out;

  const ToolRun text = Inspect(dir_->path(), Live(bank_, {"--epochs", "--last", "5"}));
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_EQ(Lines(text.out).size(), 1u + 1u + 5u) << text.out;  // summary, header, 5 epochs
  EXPECT_NE(text.out.find("with 6 thread(s)"), std::string::npos) << text.out;

  // Offline, the pool says the same.
  const ToolRun off = Inspect(dir_->path(), Offline(bank_, {"--epochs", "--json"}));
  ASSERT_EQ(off.exit_code, 0) << off.err;
  EXPECT_EQ(AllUints(off.out, "epoch"), epochs);
}

TEST_F(ReplayTest, ThreadBacktracesNameTheProgramsFunctions) {
  for (const bool live : {true, false}) {
    const auto args = live ? Live(bank_, {"--threads"}) : Offline(bank_, {"--threads"});
    const ToolRun r = Inspect(dir_->path(), args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out.find("warning:"), std::string::npos) << r.out;
    // Each transfer thread's backtrace reaches its start routine; main's reaches main.
    const std::regex worker_frame(R"(#[0-9]+ +0x[0-9a-f]+ transfer_loop\+0x[0-9a-f]+ \(bank\))");
    const auto n = std::distance(std::sregex_iterator(r.out.begin(), r.out.end(), worker_frame),
                                 std::sregex_iterator());
    EXPECT_EQ(n, 4) << r.out;
    EXPECT_TRUE(std::regex_search(r.out, std::regex(R"(#[0-9]+ +0x[0-9a-f]+ checker\+0x[0-9a-f]+ \(bank\))")))
        << r.out;
    EXPECT_TRUE(std::regex_search(r.out, std::regex(R"(#[0-9]+ +0x[0-9a-f]+ main\+0x[0-9a-f]+ \(bank\))")))
        << r.out;
    // Library frames are named too: the shim's own, and libc's thread start.
    EXPECT_TRUE(std::regex_search(r.out, std::regex(R"(\+0x[0-9a-f]+ \(librespct\.so\))"))) << r.out;
    EXPECT_TRUE(std::regex_search(r.out, std::regex(R"(start_thread\+0x[0-9a-f]+ \(libc\.so\.6\))"))) << r.out;
    EXPECT_NE(r.out.find("[main]"), std::string::npos) << r.out;
  }
  const ToolRun j = Inspect(dir_->path(), Live(bank_, {"--threads", "--json"}));
  ASSERT_EQ(j.exit_code, 0) << j.err;
  EXPECT_EQ(AllUints(j.out, "index").size(), 6u) << j.out;
  EXPECT_EQ(j.out.find("\"backtrace\": []"), std::string::npos) << "a thread without frames: " << j.out;
}

TEST_F(ReplayTest, SignalParkedThreadUnwindsThroughTheSignalFrame) {
  const ToolRun r = Inspect(dir_->path(), Live(spin_, {"--threads"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // Both spinners were stopped by the signal: the handler's frames, the
  // kernel's trampoline, then the interrupted application code.
  const std::regex through_signal(
      R"(\(park: signal\)[^\n]*\n(  #[^\n]*\n)*  #[0-9]+ +0x[0-9a-f]+ <signal handler called> __restore_rt[^\n]*\n)"
      R"(  #[0-9]+ +0x[0-9a-f]+ spin_work\+0x[0-9a-f]+ \(spin_prog\)\n)"
      R"(  #[0-9]+ +0x[0-9a-f]+ spinner\+0x[0-9a-f]+ \(spin_prog\)\n)");
  const auto n = std::distance(std::sregex_iterator(r.out.begin(), r.out.end(), through_signal),
                               std::sregex_iterator());
  EXPECT_EQ(n, 2) << r.out;
}

TEST_F(ReplayTest, DiffFindsChangedHeapLines) {
  const uint64_t e = BankEpoch();
  const ToolRun r = Inspect(dir_->path(), Live(bank_, {"--diff", std::to_string(e - 5), std::to_string(e), "--json"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::regex heap(R"("id": 2, "name": "heap", "lines": ([0-9]+), "bytes": ([0-9]+), "ranges": \[\{"offset")");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.out, m, heap)) << r.out;
  EXPECT_GT(std::stoull(m[1].str()), 0u);
  EXPECT_GT(std::stoull(m[2].str()), 0u);
  EXPECT_LE(std::stoull(m[2].str()), std::stoull(m[1].str()) * 64);

  const ToolRun text = Inspect(dir_->path(), Offline(bank_, {"--diff", std::to_string(e - 5), std::to_string(e)}));
  ASSERT_EQ(text.exit_code, 0) << text.err;
  EXPECT_TRUE(std::regex_search(text.out, std::regex(R"(\nheap +[1-9][0-9]* )"))) << text.out;
}

TEST_F(ReplayTest, ExtractMatchesTheImage) {
  const std::string out = dir_->path() + "/extract";
  const ToolRun r = Inspect(dir_->path(), Live(bank_, {"--extract", out, "--json"}));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string manifest = ReadFile(out + "/manifest.json");
  EXPECT_EQ(JsonUint(manifest, "epoch"), BankEpoch()) << manifest;
  EXPECT_NE(manifest.find("\"exe_path\": \"" + std::string(BANK_BIN) + "\""), std::string::npos) << manifest;
  EXPECT_TRUE(std::regex_search(manifest, std::regex(R"("build_id": "[0-9a-f]{40}")"))) << manifest;
  EXPECT_NE(manifest.find("libc.so.6"), std::string::npos) << manifest;

  auto reader = Transport::Connect(mn_->shm_url(), mn_->secret(), ReaderOf(bank_));
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  const std::vector<RegionSpec> regions = (*reader)->info().regions;
  ASSERT_EQ(AllUints(manifest, "size").size(), regions.size()) << manifest;
  for (const RegionSpec& region : regions) {
    const std::string name = core::RegionName(region.id);
    const std::string path = out + "/" + name + ".bin";
    struct stat st;
    ASSERT_EQ(stat(path.c_str(), &st), 0) << path;
    EXPECT_EQ(static_cast<uint64_t>(st.st_size), region.size) << path;
    EXPECT_NE(manifest.find("\"name\": \"" + name + "\", \"file\": \"" + name + ".bin\""), std::string::npos)
        << manifest;
    if (region.id != core::kHeapRegion) continue;
    // Sparse: the 64 MiB heap holds far less than that.
    EXPECT_LT(static_cast<uint64_t>(st.st_blocks) * 512, region.size / 2) << path;
    std::vector<char> image(region.size);
    ASSERT_TRUE((*reader)->ReadImage(region.id, 0, image.data(), image.size()).ok());
    const std::string file = ReadFile(path);
    ASSERT_EQ(file.size(), image.size());
    EXPECT_TRUE(std::equal(image.begin(), image.end(), file.begin())) << "heap.bin differs from ReadImage";
  }
}

TEST_F(ReplayTest, OtherEpochsAreRefusedInOneLine) {
  const uint64_t e = BankEpoch();
  const ToolRun threads = Inspect(dir_->path(), Live(bank_, {"--threads", "--epoch", std::to_string(e - 1)}));
  EXPECT_EQ(threads.exit_code, 1);
  EXPECT_EQ(threads.err, "respct-inspect: epoch " + std::to_string(e - 1) + " of app '" + bank_ +
                             "' is not available: the memnode keeps only the image of epoch " + std::to_string(e) +
                             " (--diff shows what older epochs wrote)\n");
  const ToolRun extract =
      Inspect(dir_->path(), Live(bank_, {"--extract", std::to_string(e - 3), dir_->path() + "/old"}));
  EXPECT_EQ(extract.exit_code, 1);
  EXPECT_EQ(Lines(extract.err).size(), 1u) << extract.err;
  EXPECT_NE(extract.err.find("is not available"), std::string::npos) << extract.err;
  const ToolRun same = Inspect(dir_->path(), Live(bank_, {"--threads", "--epoch", std::to_string(e)}));
  EXPECT_EQ(same.exit_code, 0) << same.err;

  const ToolRun backwards = Inspect(dir_->path(), Live(bank_, {"--diff", "5", "3"}));
  EXPECT_EQ(backwards.exit_code, 1);
  EXPECT_EQ(backwards.err, "respct-inspect: --diff E1 E2 needs E1 < E2\n");
  const ToolRun future = Inspect(dir_->path(), Live(bank_, {"--diff", "1", std::to_string(e + 10)}));
  EXPECT_EQ(future.exit_code, 1);
  EXPECT_EQ(Lines(future.err).size(), 1u) << future.err;
  const ToolRun no_app = Inspect(dir_->path(), {"--pool", mn_->pool_path(), "--threads"});
  EXPECT_EQ(no_app.exit_code, 2) << no_app.err;
  const ToolRun missing = Inspect(dir_->path(), Offline("no-such-app", {"--threads"}));
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_EQ(missing.err, "respct-inspect: no app 'no-such-app' in pool " + mn_->pool_path() + "\n");
}

}  // namespace
}  // namespace respct::shimtest
