#include "tests/support/captured_stderr.h"

#include <sys/mman.h>
#include <unistd.h>

namespace respct::testing {

CapturedStderr::CapturedStderr() {
  file_ = memfd_create("captured-stderr", MFD_CLOEXEC);
  saved_ = dup(2);
  if (file_ >= 0 && saved_ >= 0) dup2(file_, 2);
}

CapturedStderr::~CapturedStderr() {
  if (saved_ >= 0) {
    dup2(saved_, 2);
    close(saved_);
  }
  if (file_ >= 0) close(file_);
}

std::string CapturedStderr::text() const {
  std::string out;
  char buf[4096];
  for (off_t at = 0;;) {
    const ssize_t n = pread(file_, buf, sizeof buf, at);
    if (n <= 0) return out;
    out.append(buf, static_cast<size_t>(n));
    at += n;
  }
}

size_t CapturedStderr::Count(std::string_view needle) const {
  const std::string t = text();
  size_t n = 0;
  for (size_t at = t.find(needle); at != std::string::npos; at = t.find(needle, at + needle.size())) ++n;
  return n;
}

}  // namespace respct::testing
