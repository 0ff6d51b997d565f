// CapturedStderr: while it lives, what the process writes to descriptor 2
// (where ShimLog writes: runtime/core/shim_log.h) goes to a memory file, so
// a test can count the warnings a component printed.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace respct::testing {

class CapturedStderr {
 public:
  CapturedStderr();
  ~CapturedStderr();
  CapturedStderr(const CapturedStderr&) = delete;
  CapturedStderr& operator=(const CapturedStderr&) = delete;

  // Everything written so far.
  std::string text() const;
  // How many times `needle` occurs in text().
  size_t Count(std::string_view needle) const;

 private:
  int file_ = -1;   // the memory file
  int saved_ = -1;  // the real standard error
};

}  // namespace respct::testing
