// respct-inspect --threads: every thread of an app's image — its slot in the
// thread table (state, park kind, flags, start routine) and a symbolized
// backtrace unwound from its saved context through the image's stacks.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/base/status.h"
#include "tools/inspect/image_source.h"
#include "tools/inspect/unwinder.h"

namespace respct::inspect {

struct ThreadInfo {
  uint32_t index = 0;
  std::string state;
  std::string park_kind;
  std::vector<std::string> flags;
  uint64_t start_routine = 0;
  std::string start_symbol;
  uint64_t fctx = 0;
  uint64_t parked_epoch = 0;
  bool has_context = false;  // parked/blocked/frozen: fctx holds registers
  Backtrace backtrace;
};

struct ThreadReport {
  std::string app;
  std::string source;
  uint64_t epoch = 0;
  std::string exe_path;
  std::vector<std::string> warnings;  // modules that could not be opened, build-id mismatch
  std::vector<ThreadInfo> threads;    // non-free slots, by index
};

Result<ThreadReport> BuildThreadReport(ImageSource* source, size_t max_frames);
std::string FormatThreadsText(const ThreadReport& r);
std::string FormatThreadsJson(const ThreadReport& r);

}  // namespace respct::inspect
