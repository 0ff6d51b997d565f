#include "tests/crash/output_follower.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <ctime>

namespace respct::crashtest {

uint64_t UnixNowNs() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<uint64_t>(ts.tv_nsec);
}

size_t OutputFollower::Poll() {
  const int fd = open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;  // the child has not created it yet
  std::vector<std::string> complete;
  char buf[8192];
  for (;;) {
    const ssize_t n = pread(fd, buf, sizeof buf, static_cast<off_t>(offset_));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    offset_ += static_cast<uint64_t>(n);
    for (ssize_t i = 0; i < n; ++i) {
      if (buf[i] != '\n') {
        partial_ += buf[i];
        continue;
      }
      complete.push_back(std::move(partial_));
      partial_.clear();
    }
  }
  close(fd);
  // Stamped after reading: every byte read was written before this instant.
  const uint64_t now = UnixNowNs();
  for (std::string& l : complete) lines_.push_back(SeenLine{std::move(l), now});
  return complete.size();
}

std::optional<uint64_t> ProgressValue(const std::string& line, const std::string& name, const std::string& counter) {
  const std::string prefix = name + ": progress ";
  if (line.rfind(prefix, 0) != 0) return std::nullopt;
  const std::string field = " " + counter + "=";
  const size_t at = (" " + line.substr(prefix.size())).find(field);
  if (at == std::string::npos) return std::nullopt;
  const char* digits = line.c_str() + prefix.size() + at + field.size() - 1;
  char* end = nullptr;
  const unsigned long long v = std::strtoull(digits, &end, 10);
  if (end == digits) return std::nullopt;
  return v;
}

}  // namespace respct::crashtest
