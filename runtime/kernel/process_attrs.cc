#include "runtime/kernel/process_attrs.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace respct::kernel {

void RecordWorkingDirectory(KernelStateHeader* k) {
  char buf[kMaxPathBytes];
  if (getcwd(buf, sizeof buf) == nullptr) return;
  std::memcpy(k->process.cwd, buf, std::strlen(buf) + 1);
}

void RecordUmask(KernelStateHeader* k, unsigned mask) {
  k->process.umask = mask;
  k->process.umask_set = 1;
}

void RecordRlimit(KernelStateHeader* k, int resource, const rlimit64& value) {
  if (resource < 0 || resource >= 16) return;
  k->process.rlimits[resource] = value;
  k->process.rlimit_set |= 1u << resource;
}

Status RecreateProcessAttributes(const KernelStateHeader* k, AttributesRecreated* done) {
  for (int r = 0; r < 16; ++r) {
    if ((k->process.rlimit_set & (1u << r)) == 0) continue;
    if (setrlimit64(r, &k->process.rlimits[r]) != 0)
      return Status::FromErrno("setrlimit(" + std::to_string(r) + ") as the program had set it", errno);
    ++done->rlimits;
  }
  if (k->process.umask_set != 0) {
    umask(k->process.umask);
    done->umask = true;
  }
  if (k->process.cwd[0] != '\0') {
    if (chdir(k->process.cwd) != 0)
      return Status::FromErrno(std::string("chdir to the program's working directory ") + k->process.cwd, errno);
    done->cwd = true;
  }
  return Status::OK();
}

}  // namespace respct::kernel
