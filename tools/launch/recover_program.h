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

// respct-run --resume: resumes PROG (RecoverProgram) when the memnode holds a
// committed image of a run of the app that crashed, else starts PROG fresh
// (discarding a finished run's image or one with no committed epoch). One
// line on stderr says which. Returns only on failure.
Status ResumeOrStart(RunOptions* options, const char* tool);

// respct-run without --recover or --resume: starts PROG. An image of a run of
// the app that exited (its final checkpoint committed) cannot be resumed and
// is replaced, with one line on stderr saying so; the image of a run that
// crashed is kept and the shim refuses to start over it (recover it, or give
// --fresh). Returns only on failure.
Status StartProgram(RunOptions* options, const char* tool);

}  // namespace respct::launch
