// OutputFollower: reads a child's standard output file as it grows and stamps
// every complete line with the wall-clock time (CLOCK_REALTIME, ns) at which
// the test first saw it. A line seen at time T was written at or before T,
// which is what the crash campaign needs to compare program output with the
// capture time of a checkpoint (also CLOCK_REALTIME, in the image's meta
// header).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace respct::crashtest {

struct SeenLine {
  std::string text;
  uint64_t seen_unix_ns;
};

class OutputFollower {
 public:
  explicit OutputFollower(std::string path) : path_(std::move(path)) {}
  // Reads what was appended since the last call; returns how many complete
  // lines it added.
  size_t Poll();
  const std::vector<SeenLine>& lines() const { return lines_; }

 private:
  std::string path_;
  uint64_t offset_ = 0;
  std::string partial_;  // bytes after the last newline
  std::vector<SeenLine> lines_;
};

// CLOCK_REALTIME in ns: the clock of MetaHeader::capture_unix_ns.
uint64_t UnixNowNs();

// The counter of a progress line "<name>: progress <counter>=N ...", or
// nullopt if `line` is not one.
std::optional<uint64_t> ProgressValue(const std::string& line, const std::string& name, const std::string& counter);

}  // namespace respct::crashtest
