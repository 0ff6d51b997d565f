// Process attributes a program changes and a recovery sets again, before
// anything else (RLIMIT_NOFILE must allow the descriptors about to be
// recreated; relative paths resolve against the working directory):
// the working directory (chdir, fchdir), the umask and resource limits
// (setrlimit, prlimit on itself). Recorded by the interposed calls.
#pragma once

#include <sys/resource.h>

#include "runtime/base/status.h"
#include "runtime/kernel/kernel_state.h"

namespace respct::kernel {

// After a successful chdir/fchdir: the new working directory (getcwd).
void RecordWorkingDirectory(KernelStateHeader* k);
void RecordUmask(KernelStateHeader* k, unsigned mask);
void RecordRlimit(KernelStateHeader* k, int resource, const rlimit64& value);

struct AttributesRecreated {
  bool cwd = false;
  bool umask = false;
  int rlimits = 0;
};
Status RecreateProcessAttributes(const KernelStateHeader* k, AttributesRecreated* done);

}  // namespace respct::kernel
