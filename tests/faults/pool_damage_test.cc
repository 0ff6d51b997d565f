// Bit flips in a stopped memnode's pool file (issue 13 §4, storage faults).
//
// Two apps (bank, under respct-run over tcp) commit epochs to one memnode;
// both are killed -9, then the memnode; one bit is flipped at a random offset
// of one area of the pool file; the memnode restarts on it and both apps are
// recovered. Each area's damage is either found and reported for the app it
// hits (whose recovery then refuses, naming the cause, while the other app
// recovers to the native result), or harmless by construction (a copy
// exists, or the bytes were already applied) and both recover:
//   superblock   restored from its copy: both recover
//   app_entry    the damaged app's entry fails its checksum: refused
//   applied_mark the current mark fails: the older one is used and the epoch
//                after it replayed: both recover
//   ring         records already applied: both recover
//   image        a page the app wrote fails its checksum: recovery refused
// respct-inspect --pool --verify, run on the stopped pool, finds the same.
// The seed of the offsets is printed; RESPCT_DAMAGE_SEED=N repeats a run.
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "memnode/pool_layout.h"
#include "tests/crash/example_cases.h"
#include "tests/shim/shim_test_util.h"

namespace respct::crashtest {
namespace {

using shimtest::Child;
using shimtest::ChildOptions;
using shimtest::ChildResult;

const std::vector<std::string> kBank = {BANK_BIN, "--transfers", "600000", "--work-ns", "100", "--report-ms", "20"};

uint64_t Seed() {
  if (const char* s = std::getenv("RESPCT_DAMAGE_SEED")) return std::strtoull(s, nullptr, 10);
  return static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
}

class PoolDamage : public testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    ASSERT_TRUE(shimtest::Started(mn_));
    const ChildResult native = shimtest::RunChild(dir_.path(), "native", kBank);
    ASSERT_EQ(native.exit_code, 0) << native.Describe();
    native_line_ = shimtest::DigestLine("bank", native.out).value_or("");
    ASSERT_FALSE(native_line_.empty()) << native.Describe();
    seed_ = Seed();
    rng_.seed(seed_);
    std::printf("RESPCT_DAMAGE_SEED=%llu\n", static_cast<unsigned long long>(seed_));
  }

  std::unique_ptr<Child> Run(const std::string& app, const std::string& tag, bool recover) {
    std::vector<std::string> flags = kSmallImage;
    flags.insert(flags.begin(), "--fresh");
    ChildOptions co;
    co.env.emplace_back("RESPCT_STATE_DIR", dir_.path());
    co.stdout_file = dir_ / (tag + ".out");
    co.timeout_s = 240;
    const auto argv = recover ? shimtest::RespctRecover(mn_, mn_.tcp_url(), app, kBank)
                              : shimtest::RespctRun(mn_.tcp_url(), mn_.secret_path(), app, flags, kBank);
    return std::make_unique<Child>(dir_.path(), tag, argv, co);
  }

  // Both apps commit a few epochs and are killed, then the memnode is.
  void RunAndKillAll() {
    auto a = Run(app_a_, "a", false);
    auto b = Run(app_b_, "b", false);
    ASSERT_GE(shimtest::WaitForEpoch(mn_, app_a_, 5, std::chrono::seconds(60)), 5u) << mn_.LogTail();
    ASSERT_GE(shimtest::WaitForEpoch(mn_, app_b_, 5, std::chrono::seconds(60)), 5u) << mn_.LogTail();
    ASSERT_FALSE(a->Exited() || b->Exited()) << "finished before the kill: make the workload longer";
    a->Kill();
    b->Kill();
    // The last commit's apply follows its acknowledgement at once; leave it
    // that moment so every committed epoch is in the image.
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    mn_.Kill();
  }

  memnode::AppEntry Entry(const std::string& app, uint64_t* offset) {
    const int fd = open(mn_.pool_path().c_str(), O_RDONLY | O_CLOEXEC);
    EXPECT_GE(fd, 0);
    memnode::AppEntry e{};
    for (uint32_t i = 0; i < memnode::kAppTableEntries; ++i) {
      *offset = memnode::kAppTableOffset + uint64_t{i} * memnode::kAppEntrySize;
      EXPECT_EQ(pread(fd, &e, sizeof e, static_cast<off_t>(*offset)), static_cast<ssize_t>(sizeof e));
      if (e.state == memnode::kAppLive && app == e.name) break;
    }
    close(fd);
    EXPECT_EQ(std::string(e.name), app) << "app not found in the pool's table";
    return e;
  }

  uint64_t Below(uint64_t n) { return std::uniform_int_distribution<uint64_t>(0, n - 1)(rng_); }

  void FlipBit(uint64_t offset) {
    const int fd = open(mn_.pool_path().c_str(), O_RDWR | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    uint8_t byte = 0;
    ASSERT_EQ(pread(fd, &byte, 1, static_cast<off_t>(offset)), 1);
    byte ^= static_cast<uint8_t>(1u << Below(8));
    ASSERT_EQ(pwrite(fd, &byte, 1, static_cast<off_t>(offset)), 1);
    close(fd);
    std::printf("flipped a bit of pool byte %llu (%s)\n", static_cast<unsigned long long>(offset), GetParam().c_str());
  }

  // A random byte of a page of `app`'s image that holds something.
  uint64_t WrittenImageByte(const memnode::AppEntry& e) {
    const int fd = open(mn_.pool_path().c_str(), O_RDONLY | O_CLOEXEC);
    std::vector<uint64_t> pages;
    std::vector<uint8_t> buf(1 << 20);
    for (uint64_t at = 0; at < e.image_size; at += buf.size()) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(buf.size(), e.image_size - at));
      EXPECT_EQ(pread(fd, buf.data(), n, static_cast<off_t>(e.image_offset + at)), static_cast<ssize_t>(n));
      for (size_t p = 0; p < n; p += 4096)
        for (size_t i = p; i < p + 4096 && i < n; i += 8)
          if (buf[i] != 0 || buf[i + 1] != 0) {
            pages.push_back(e.image_offset + at + p);
            break;
          }
    }
    close(fd);
    EXPECT_FALSE(pages.empty());
    return pages.empty() ? e.image_offset : pages[Below(pages.size())] + Below(4096);
  }

  void Damage() {
    uint64_t entry_at = 0;
    const memnode::AppEntry a = Entry(app_a_, &entry_at);
    const std::string& area = GetParam();
    if (area == "superblock") {
      FlipBit(Below(offsetof(memnode::Superblock, checksum) + sizeof(uint64_t)));
    } else if (area == "app_entry") {
      FlipBit(entry_at + 8 + Below(offsetof(memnode::AppEntry, checksum) + sizeof(uint64_t) - 8));
    } else if (area == "applied_mark") {
      const int cur = a.mark[0].seq > a.mark[1].seq ? 0 : 1;
      FlipBit(entry_at + offsetof(memnode::AppEntry, mark) + cur * sizeof(memnode::AppliedMark) +
              Below(offsetof(memnode::AppliedMark, checksum)));
    } else if (area == "ring") {
      // Bytes of records already applied: everything before the mark's position.
      const int cur = a.mark[0].seq > a.mark[1].seq ? 0 : 1;
      const uint64_t used = std::min(a.mark[cur].applied_pos, a.ring_capacity);
      ASSERT_GT(used, 0u);
      FlipBit(a.ring_offset + Below(used));
    } else if (area == "image") {
      FlipBit(WrittenImageByte(a));
    } else {
      FAIL() << "unknown area " << area;
    }
  }

  bool DamageIsFound() const { return GetParam() == "app_entry" || GetParam() == "image"; }

  void ExpectNativeEnd(const std::string& app, const std::string& tag) {
    auto rec = Run(app, tag, true);
    ChildResult r = rec->Wait();
    r.out = shimtest::ReadFile(dir_ / (tag + ".out"));
    ASSERT_EQ(r.exit_code, 0) << r.Describe() << "\nmemnode: " << mn_.LogTail();
    EXPECT_NE(r.err.find("resuming app"), std::string::npos) << r.Describe();
    EXPECT_EQ(shimtest::DigestLine("bank", r.out).value_or("(no digest line)"), native_line_) << r.Describe();
  }

  shimtest::TempDir dir_;
  test::MemnodeProcess mn_{shimtest::MemnodeOptions()};
  std::string app_a_ = shimtest::UniqueApp("damaged");
  std::string app_b_ = shimtest::UniqueApp("intact");
  std::string native_line_;
  uint64_t seed_ = 0;
  std::mt19937_64 rng_;
};

TEST_P(PoolDamage, IsFoundForTheAppItHitsOrIsHarmless) {
  RunAndKillAll();
  if (HasFatalFailure()) return;
  Damage();
  if (HasFatalFailure()) return;
  // Offline, before any memnode touches it: respct-inspect --verify says the same.
  const ChildResult verify = shimtest::RunChild(
      dir_.path(), "verify", {RESPCT_INSPECT_BIN, "--pool", mn_.pool_path(), "--verify"});
  std::printf("respct-inspect --verify: %s", verify.out.c_str());
  EXPECT_EQ(verify.exit_code, DamageIsFound() ? 1 : 0) << verify.Describe();
  EXPECT_NE(verify.out.find(app_b_ + ": ok"), std::string::npos) << verify.Describe();
  if (DamageIsFound()) {
    EXPECT_NE(verify.out.find("DAMAGED"), std::string::npos) << verify.Describe();
  }
  ASSERT_TRUE(shimtest::Started(mn_)) << "the memnode did not restart on the damaged pool";

  // The other app is never affected.
  ExpectNativeEnd(app_b_, "b-recovered");
  if (!DamageIsFound()) {
    ExpectNativeEnd(app_a_, "a-recovered");
    if (GetParam() == "superblock") {
      EXPECT_NE(mn_.LogTail().find("restored from its copy"), std::string::npos) << mn_.LogTail();
    }
    return;
  }
  auto rec = Run(app_a_, "a-recovered", true);
  const ChildResult r = rec->Wait();
  std::printf("the refusal: %s", r.err.c_str());
  EXPECT_NE(r.exit_code, 0) << "a damaged image was resumed: " << r.Describe();
  EXPECT_EQ(r.err.find("resuming app"), std::string::npos) << r.Describe();
  const std::string why = GetParam() == "image" ? "fails its checksum" : "checksum mismatch";
  // A flip in the entry's name leaves the app unnamed: the refusal points at the damaged entry instead.
  const bool said = r.err.find(why) != std::string::npos || r.err.find("damaged app table entry") != std::string::npos;
  EXPECT_TRUE(said) << "the refusal does not say why: " << r.Describe();
  EXPECT_NE(mn_.LogTail().find(why), std::string::npos) << "the memnode does not report it: " << mn_.LogTail();
}

INSTANTIATE_TEST_SUITE_P(Areas, PoolDamage,
                         testing::Values("superblock", "app_entry", "applied_mark", "ring", "image"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace respct::crashtest
