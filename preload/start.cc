// Process start-up: librespct.so takes over __libc_start_main, the function
// the executable's _start calls, to bring the runtime up before the
// executable's constructors run (so what they allocate is persisted) and to
// run main on a thread whose stack is persisted (DESIGN §2).
//
//   _start → __libc_start_main (here) → Runtime::Start → libc's
//   __libc_start_main(MainOnPersistedThread) → constructors → our wrapper:
//   atexit(Shutdown) → Runtime::RunMain → main on thread slot 0
//   (recovery mode: Runtime::ResumeMain → every thread of the image resumed).
//
// respct protects this program only: LD_PRELOAD and RESPCT_* are removed from
// the environment, so programs it runs start without the shim.
// Nothing here runs in a signal handler.
#include "preload/start.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <string>

#include "preload/export.h"
#include "preload/libc_next.h"
#include "runtime/base/exit_code.h"
#include "runtime/core/anonymous_maps.h"
#include "runtime/core/app_heap.h"
#include "runtime/core/config.h"
#include "runtime/core/current_thread.h"
#include "runtime/core/loaded_program.h"
#include "runtime/core/runtime.h"

namespace {

using respct::core::Runtime;

using MainFn = int (*)(int, char**, char**);
using StartMainFn = int (*)(MainFn, int, char**, void (*)(), void (*)(), void (*)(), void*);

MainFn g_app_main = nullptr;

void OnExit() {
  if (Runtime* rt = Runtime::Active()) rt->Shutdown();
}

void BeforeFork() {
  respct::core::AnonymousMaps::PrepareFork();
  if (respct::heap::Heap* h = respct::core::AppHeap()) h->PrepareFork();
}
void ParentAfterFork() {
  if (respct::heap::Heap* h = respct::core::AppHeap()) h->ParentAfterFork();
  respct::core::AnonymousMaps::ParentAfterFork();
}
void ChildAfterFork() {
  if (respct::heap::Heap* h = respct::core::AppHeap()) h->ChildAfterFork();
  respct::core::AnonymousMaps::ChildAfterFork();
  Runtime::DisableInChild();
}

int MainOnPersistedThread(int argc, char** argv, char** envp) {
  Runtime* rt = Runtime::Active();
  if (rt == nullptr) return g_app_main(argc, argv, envp);
  // Registered last, so it runs first at exit: the final checkpoint sees the
  // program as exit() found it, before static destructors.
  atexit(OnExit);
  if (rt->recovering()) return rt->ResumeMain();  // main's own arguments are in the image
  return rt->RunMain(g_app_main, argc, argv, envp);
}

// Children of this program run without respct.
void ScrubEnvironment() {
  unsetenv("LD_PRELOAD");
  for (;;) {
    std::string name;
    for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
      if (strncmp(*e, "RESPCT_", 7) == 0) {
        const char* eq = strchr(*e, '=');
        name.assign(*e, eq != nullptr ? static_cast<size_t>(eq - *e) : strlen(*e));
        break;
      }
    }
    if (name.empty()) return;
    unsetenv(name.c_str());
  }
}

[[noreturn]] void RefuseToStart(const std::string& why) {
  const std::string line = "respct: " + why + "; not starting the program\n";
  (void)!write(2, line.data(), line.size());
  _exit(respct::kExitRespctFailure);
}

}  // namespace

RESPCT_EXPORT int __libc_start_main(MainFn main, int argc, char** argv,
                                                                       void (*init)(), void (*fini)(),
                                                                       void (*rtld_fini)(), void* stack_end) {
  static respct::preload::Next<StartMainFn> next("__libc_start_main");
  StartMainFn real = next.get();
  g_app_main = main;
  respct::preload::FillLibcEntry();
  {
    respct::core::RuntimeScope scope;
    auto config = respct::core::LoadRuntimeConfig(argv[0]);
    if (!config.ok()) RefuseToStart(config.status().message());
    ScrubEnvironment();
    if (!config->disabled) {
      auto program = respct::core::LoadedProgram::Inspect();
      if (!program.ok()) RefuseToStart(program.status().ToString());
      respct::Status st = Runtime::Start(config.value(), std::move(program.value()));
      if (!st.ok()) RefuseToStart(st.ToString());
      pthread_atfork(BeforeFork, ParentAfterFork, ChildAfterFork);
    }
  }
  return real(MainOnPersistedThread, argc, argv, init, fini, rtld_fini, stack_end);
}
