// The exec family. A program that execs another ends its own image there:
// the new program starts with LD_PRELOAD and RESPCT_* scrubbed (start.cc), so
// it runs without respct, and nothing at exit would say so (no statistics, no
// final epoch). One warning says it before the exec, so a wrapper script (a
// pyenv shim, a shell script ending in `exec`) is not taken for a protected
// run. What output commit still holds is sent first (output_calls.h): nobody
// would send it after the exec. The call itself is libc's.
//
// May run before init: yes (nothing is said then). In a signal handler: execve
// is async-signal-safe and the warning is one write(2) — but only on the
// first exec, which a handler rarely is; the held output is left then.
#include <unistd.h>

#include "preload/export.h"
#include "preload/libc_next.h"
#include "runtime/core/output_calls.h"
#include "runtime/core/runtime.h"
#include "runtime/core/shim_log.h"

using respct::preload::Next;

namespace {

Next<int (*)(const char*, char* const[], char* const[])> next_execve("execve");
Next<int (*)(const char*, char* const[])> next_execv("execv");
Next<int (*)(const char*, char* const[])> next_execvp("execvp");
Next<int (*)(const char*, char* const[], char* const[])> next_execvpe("execvpe");
Next<int (*)(int, char* const[], char* const[])> next_fexecve("fexecve");

void SayExec(const char* what) {
  if (respct::core::Runtime::Active() == nullptr) return;
  respct::core::ReleaseHeldOutputBeforeExec();
  respct::core::ShimLog(respct::core::kLogWarn,
                        "the program execs %s: it runs WITHOUT respct from here (this app's image ends at its "
                        "last committed epoch); run that program under respct-run itself",
                        what);
}

}  // namespace

RESPCT_EXPORT int execve(const char* path, char* const argv[], char* const envp[]) {
  SayExec(path);
  return next_execve.get()(path, argv, envp);
}

RESPCT_EXPORT int execv(const char* path, char* const argv[]) {
  SayExec(path);
  return next_execv.get()(path, argv);
}

RESPCT_EXPORT int execvp(const char* file, char* const argv[]) {
  SayExec(file);
  return next_execvp.get()(file, argv);
}

RESPCT_EXPORT int execvpe(const char* file, char* const argv[], char* const envp[]) {
  SayExec(file);
  return next_execvpe.get()(file, argv, envp);
}

RESPCT_EXPORT int fexecve(int fd, char* const argv[], char* const envp[]) {
  SayExec("a program by descriptor (fexecve)");
  return next_fexecve.get()(fd, argv, envp);
}
