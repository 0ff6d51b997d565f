// LoadedProgram: what respct needs to know about the program it runs in,
// read from the loader's program headers (dl_iterate_phdr) at start-up:
//   - the executable's writable, non-RELRO segment span: its globals (.data,
//     .bss), persisted in place;
//   - the same span of each of the program's own shared libraries (libevent,
//     jemalloc, libssl...): those the executable needs, directly or not, and
//     respct does not (FindProgramLibraries); persisted in place too;
//   - its GNU build-id, static TLS block (PT_TLS size and alignment) and the
//     loaded libraries with their load addresses: the identity a recovery
//     checks before it restores an image into a new process;
//   - the parts of the globals that belong to a library or the dynamic
//     linker and are re-initialised by every process, so a recovery must not
//     restore them: copy relocations (R_X86_64_COPY: library variables such as
//     `environ` or `stdout` whose storage the linker put in the executable's
//     .bss) and the lazy-binding GOT (.got.plt: ld.so's link map pointer and
//     resolver address);
//   - the code ranges of libc, the dynamic loader, libgcc_s and respct itself,
//     whose state is per process: where a stop signal may park a thread
//     inside them is decided by RestartPoint (restart_point.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "runtime/base/status.h"
#include "runtime/core/restart_point.h"

namespace respct::core {

struct AddressRange {
  uintptr_t lo, hi;
};

struct CodeRange {
  uintptr_t lo, hi;
  CodeOwner owner;
};

struct LibraryInfo {
  std::string name;
  uintptr_t load_addr;
};

// The writable, non-RELRO data of one shared library (page-aligned).
struct LibraryGlobals {
  std::string name;
  uintptr_t base;
  size_t size;
};

struct LoadedProgram {
  std::string exe_path;
  uintptr_t load_bias = 0;     // the executable's dlpi_addr
  uintptr_t globals_base = 0;  // page-aligned; 0 when the executable has none
  size_t globals_size = 0;
  std::vector<uint8_t> build_id;
  size_t tls_size = 0;
  size_t tls_align = 0;
  std::vector<LibraryInfo> libraries;
  std::vector<CodeRange> runtime_code;  // sorted; code not owned by the program
  std::vector<AddressRange> process_owned_globals;  // sorted; see FindProcessOwnedGlobals
  // In load order. Libraries shared with respct itself (libstdc++, libm,
  // libsodium...), libc, ld.so and libgcc_s are not among them: their state
  // serves the runtime too and is re-initialised by every process.
  std::vector<LibraryGlobals> library_globals;

  static Result<LoadedProgram> Inspect();
  // Reads the executable file's dynamic section for process_owned_globals
  // (only a recovery needs them).
  Status FindProcessOwnedGlobals();
};

// Installs `ranges` for CodeOwnerAt (copied into static storage, no heap).
void SetRuntimeCode(const std::vector<CodeRange>& ranges);
// Who owns the code at `pc`. Async-signal-safe.
CodeOwner CodeOwnerAt(uintptr_t pc);

// Address of the calling thread's block of the executable's static TLS, or 0.
uintptr_t ExecutableTlsBlock();

}  // namespace respct::core
