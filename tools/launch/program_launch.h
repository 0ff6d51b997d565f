// Starting the protected program: the environment librespct.so reads
// (RESPCT_* and LD_PRELOAD), ASLR off, then exec. Shared by respct-run and
// respct-recover.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "runtime/base/status.h"

namespace respct::launch {

struct ProgramLaunch {
  std::vector<std::string> argv;                            // program and its arguments
  std::string library;                                      // librespct.so
  std::vector<std::pair<std::string, std::string>> env;    // RESPCT_* settings
};

// Where librespct.so is: $RESPCT_LIBRARY, else <dir of this tool>/../lib.
std::string DefaultLibraryPath();

// Disables address-space randomisation for this process and what it execs
// (the persisted regions and the code they point into must be where they
// were), sets the environment and execs the program. Returns only on failure.
Status ExecProgram(const ProgramLaunch& launch);

}  // namespace respct::launch
