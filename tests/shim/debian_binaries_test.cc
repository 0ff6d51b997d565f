// Real, unmodified multithreaded Debian programs under respct-run: pigz and
// xz compress a deterministic file with two threads; the compressed output
// must be byte-identical to a native run's (both tools are deterministic for
// a given input, level and thread count), and respct must have checkpointed
// while they ran. Skipped when the tool is not installed
// (tools/install-deps.sh installs both).
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/shim/shim_test_util.h"

namespace respct::shimtest {
namespace {

std::string FindInPath(const std::string& tool) {
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path != nullptr ? path : "/usr/bin:/bin");
  for (std::string d; std::getline(dirs, d, ':');) {
    const std::string candidate = d + "/" + tool;
    if (!d.empty() && access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return {};
}

// `bytes` of lowercase "text": words drawn by a seeded splitmix64 from a
// 4096-word vocabulary, lines of ~80 characters. Compresses about 3:1, so
// the compressors do real work, and is the same on every run.
std::string DeterministicText(size_t bytes) {
  uint64_t state = 0x5eed;
  auto next = [&state] {
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  };
  std::vector<std::string> vocabulary(4096);
  for (std::string& w : vocabulary) {
    const size_t len = 2 + next() % 9;
    for (size_t i = 0; i < len; ++i) w += static_cast<char>('a' + next() % 26);
  }
  std::string text;
  text.reserve(bytes + 16);
  size_t column = 0;
  while (text.size() < bytes) {
    const std::string& w = vocabulary[next() % vocabulary.size()];
    text += w;
    column += w.size() + 1;
    if (column > 80) {
      text += '\n';
      column = 0;
    } else {
      text += ' ';
    }
  }
  text.resize(bytes);
  return text;
}

// Compresses `input` with `tool args input` natively and under respct-run
// (shm), and compares the two outputs.
void CompressBothWays(const std::string& tool, const std::vector<std::string>& args, size_t input_bytes) {
  const std::string binary = FindInPath(tool);
  if (binary.empty()) GTEST_SKIP() << tool << " is not installed (tools/install-deps.sh installs it)";
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  test::MemnodeProcess mn(MemnodeOptions());
  ASSERT_TRUE(Started(mn));
  const std::string input = dir / "input.txt";
  WriteFile(input, DeterministicText(input_bytes));

  std::vector<std::string> command = {binary};
  command.insert(command.end(), args.begin(), args.end());
  command.push_back(input);

  const ChildResult native = RunChild(dir.path(), "native", command, StdoutTo(dir / "native.out"));
  ASSERT_EQ(native.exit_code, 0) << native.Describe();
  const std::string stats_file = dir / "stats.json";
  const ChildResult run = RunChild(dir.path(), "respct",
                              RespctRun(mn.shm_url(), mn.secret_path(), UniqueApp(tool),
                                        {"--stats=json", "--stats-file", stats_file}, command),
                              StdoutTo(dir / "respct.out"));
  ASSERT_EQ(run.exit_code, 0) << run.Describe() << "\nmemnode: " << mn.LogTail();

  const std::string expected = ReadFile(dir / "native.out"), got = ReadFile(dir / "respct.out");
  ASSERT_GT(expected.size(), 0u);
  ASSERT_LT(expected.size(), input_bytes) << tool << " did not compress";
  EXPECT_TRUE(expected == got) << tool << " output differs under respct: native " << expected.size() << " bytes, fnv "
                               << std::hex << Fnv1a(expected) << "; respct " << std::dec << got.size()
                               << " bytes, fnv " << std::hex << Fnv1a(got) << run.Describe();
  const std::string stats = ReadFile(stats_file);
  EXPECT_GE(JsonUint(stats, "epochs_committed").value_or(0), 2u) << "no checkpointing while " << tool
                                                                   << " ran: " << stats << run.Describe();
}

TEST(DebianBinaries, Pigz50MBTwoThreads) { CompressBothWays("pigz", {"-p", "2", "-c"}, size_t{50} << 20); }

// --block-size splits the input so that both threads compress (xz's default
// block is 3x the dictionary, larger than this file). Preset -1: the default
// -6 takes ~20 s natively on 12 MB here (and ~5x that under respct), far
// beyond this suite's budget.
TEST(DebianBinaries, Xz6MBTwoThreads) {
  CompressBothWays("xz", {"-1", "-T2", "--block-size=1MiB", "-c"}, size_t{6} << 20);
}

}  // namespace
}  // namespace respct::shimtest
