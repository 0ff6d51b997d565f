// The example programs under respct-run, against a real memnode, over shm and
// tcp:
//   ExampleRun     the result line equals the native run's, and the stats
//                  show real checkpointing (>= 2 committed epochs) that the
//                  memnode agrees with.
//   ImageMatchesDump  what the memnode holds for the app after exit is, byte
//                  for byte, the memory the final epoch captured
//                  (RESPCT_DUMP_DIR), every region.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <ostream>
#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "runtime/core/layout.h"
#include "tests/shim/shim_test_util.h"

namespace respct::shimtest {
namespace {

struct ExampleCase {
  const char* name;
  const char* binary;
  std::vector<std::string> args;  // long enough that a 10 ms epoch commits several times
};

const ExampleCase kExamples[] = {
    {"bank", BANK_BIN, {"--transfers", "200000", "--work-ns", "100"}},
    {"kvstore", KVSTORE_BIN, {"--ops", "400000"}},
    {"pipeline", PIPELINE_BIN, {"--items", "300000"}},
};

// Names the case in test listings (gtest would print its bytes).
void PrintTo(const ExampleCase& e, std::ostream* os) { *os << e.name; }

std::string UrlOf(const test::MemnodeProcess& mn, const std::string& transport) {
  return transport == "shm" ? mn.shm_url() : mn.tcp_url();
}

std::vector<std::string> CommandOf(const ExampleCase& e) {
  std::vector<std::string> argv = {e.binary};
  argv.insert(argv.end(), e.args.begin(), e.args.end());
  return argv;
}

class ExampleRun : public testing::TestWithParam<std::tuple<ExampleCase, std::string>> {};

TEST_P(ExampleRun, SameDigestAsNativeAndCommitsEpochs) {
  const auto& [example, transport] = GetParam();
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  test::MemnodeProcess mn(MemnodeOptions());
  ASSERT_TRUE(Started(mn));

  const ChildResult native = RunChild(dir.path(), "native", CommandOf(example));
  ASSERT_EQ(native.exit_code, 0) << native.Describe();
  const auto native_line = DigestLine(example.name, native.out);
  ASSERT_TRUE(native_line) << "no digest line in the native run" << native.Describe();

  const std::string app = UniqueApp(example.name);
  const std::string stats_file = dir / "stats.json";
  const ChildResult run =
      RunChild(dir.path(), "respct",
          RespctRun(UrlOf(mn, transport), mn.secret_path(), app, {"--stats=json", "--stats-file", stats_file},
                    CommandOf(example)));
  ASSERT_EQ(run.exit_code, 0) << run.Describe() << "\nmemnode: " << mn.LogTail();
  EXPECT_EQ(DigestLine(example.name, run.out).value_or("(no digest line)"), *native_line) << run.Describe();

  const std::string stats = ReadFile(stats_file);
  const auto committed = JsonUint(stats, "epochs_committed");
  ASSERT_TRUE(committed) << "no epochs_committed in " << stats_file << ": " << stats << run.Describe();
  EXPECT_GE(*committed, 2u) << "the run was too short to checkpoint: " << stats;
  EXPECT_TRUE(JsonUint(stats, "epochs_abandoned")) << "epochs_abandoned not reported: " << stats;
  const auto last = JsonUint(stats, "last_committed_epoch");
  ASSERT_TRUE(last) << stats;

  // The memnode's own record of the app agrees with what the shim reported.
  auto reader = Transport::Connect(UrlOf(mn, transport), mn.secret(), ReaderOf(app));
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  EXPECT_EQ((*reader)->info().committed_epoch, *last) << stats;
}

std::string ParamName(const testing::TestParamInfo<ExampleRun::ParamType>& info) {
  return std::string(std::get<0>(info.param).name) + "_" + std::get<1>(info.param);
}

INSTANTIATE_TEST_SUITE_P(Examples, ExampleRun,
                         testing::Combine(testing::ValuesIn(kExamples), testing::Values("shm", "tcp")), ParamName);

// The dump file names respct uses for each region id (runtime/core/layout.h).
std::string DumpName(uint32_t region) {
  switch (region) {
    case core::kMetaRegion: return "meta";
    case core::kHeapRegion: return "heap";
    case core::kStackRegion: return "stacks";
    case core::kGlobalsRegion: return "globals";
    case core::kKernelRegion: return "kernel";
  }
  return "region" + std::to_string(region);
}

// Reads [offset, offset+len) of a dump file; what the file lacks reads as zeros
// (the dump is sparse and writes only resident pages).
void ReadDump(int fd, uint64_t offset, std::vector<char>* buf) {
  std::fill(buf->begin(), buf->end(), 0);
  if (fd < 0) return;
  size_t done = 0;
  while (done < buf->size()) {
    const ssize_t n = pread(fd, buf->data() + done, buf->size() - done, static_cast<off_t>(offset + done));
    if (n <= 0) return;
    done += static_cast<size_t>(n);
  }
}

// Programs whose image is compared with their memory: kvstore mallocs and
// frees all along (heap metadata and contents both change between epochs);
// grow_prog's heap and stack use keep growing during the run, past respct's
// tracking step, so regions are tracked further under the pause.
struct ImageCase {
  const char* name;
  std::vector<std::string> argv;
};
const ImageCase kImageCases[] = {
    {"kvstore", {KVSTORE_BIN, "--ops", "200000"}},
    {"grow", {GROW_PROG}},
};
void PrintTo(const ImageCase& c, std::ostream* os) { *os << c.name; }

class ImageMatchesDump : public testing::TestWithParam<std::tuple<ImageCase, std::string>> {};

TEST_P(ImageMatchesDump, EveryRegionByteForByte) {
  const auto& [program, transport] = GetParam();
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  test::MemnodeProcess mn(MemnodeOptions());
  ASSERT_TRUE(Started(mn));
  const std::string dump = dir / "dump";
  ASSERT_EQ(mkdir(dump.c_str(), 0755), 0);

  // A 256 MiB heap (instead of 1 GiB) keeps the read-back short; the
  // comparison covers every byte of every region.
  const std::string app = UniqueApp("image");
  const ChildResult run = RunChild(dir.path(), "respct",
                              RespctRun(UrlOf(mn, transport), mn.secret_path(), app, {"--heap-size", "256M"},
                                        program.argv),
                              WithEnv("RESPCT_DUMP_DIR", dump));
  ASSERT_EQ(run.exit_code, 0) << run.Describe();
  ASSERT_TRUE(DigestLine(program.name, run.out)) << run.Describe();

  auto reader = Transport::Connect(UrlOf(mn, transport), mn.secret(), ReaderOf(app));
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  const AttachInfo& info = (*reader)->info();
  ASSERT_GE(info.committed_epoch, 1u);
  ASSERT_FALSE(info.regions.empty());

  constexpr size_t kChunk = size_t{4} << 20;
  std::vector<char> image(kChunk), dumped(kChunk);
  for (const RegionSpec& region : info.regions) {
    const std::string name = DumpName(region.id);
    const std::string path = dump + "/" + name + ".bin";
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    EXPECT_GE(fd, 0) << "no dump for region " << name << " at " << path << run.Describe();
    uint64_t mismatched_lines = 0, first_mismatch = UINT64_MAX;
    bool has_data = false;
    for (uint64_t off = 0; off < region.size; off += kChunk) {
      const size_t len = static_cast<size_t>(std::min<uint64_t>(kChunk, region.size - off));
      image.resize(len);
      dumped.resize(len);
      const Status st = (*reader)->ReadImage(region.id, off, image.data(), len);
      ASSERT_TRUE(st.ok()) << "ReadImage " << name << " at " << off << ": " << st.ToString();
      ReadDump(fd, off, &dumped);
      has_data |= std::any_of(image.begin(), image.end(), [](char c) { return c != 0; });
      if (std::memcmp(image.data(), dumped.data(), len) == 0) continue;
      for (size_t line = 0; line < len; line += 64) {
        if (std::memcmp(image.data() + line, dumped.data() + line, std::min<size_t>(64, len - line)) == 0) continue;
        ++mismatched_lines;
        first_mismatch = std::min(first_mismatch, off + line);
      }
    }
    if (fd >= 0) close(fd);
    EXPECT_EQ(mismatched_lines, 0u) << "region " << name << " (" << region.size << " bytes): " << mismatched_lines
                                    << " 64-byte lines differ between the memnode image (epoch "
                                    << info.committed_epoch << ") and the dump, the first at offset "
                                    << first_mismatch;
    // All zeros on both sides would make the comparison vacuous.
    if (region.id == core::kMetaRegion || region.id == core::kHeapRegion) {
      EXPECT_TRUE(has_data) << "region " << name << " of the image is all zeros";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Programs, ImageMatchesDump,
                         testing::Combine(testing::ValuesIn(kImageCases), testing::Values("shm", "tcp")),
                         [](const auto& info) {
                           return std::string(std::get<0>(info.param).name) + "_" + std::get<1>(info.param);
                         });

}  // namespace
}  // namespace respct::shimtest
