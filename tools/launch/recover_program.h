// respct-recover's work, shared with `respct-run --recover`: fetch the image
// of the app's last committed epoch from its memnode into a local file, and
// start PROG — ASLR off, AT_RANDOM as in the process that wrote the image,
// RESPCT_RECOVER naming the file — so that its shim resumes every thread.
#pragma once

#include <cstdint>

#include "runtime/base/status.h"
#include "tools/launch/run_options.h"

namespace respct::launch {

// Returns only on failure (PROG could not be started).
Status RecoverProgram(RunOptions* options, uint64_t epoch, const char* tool);

}  // namespace respct::launch
