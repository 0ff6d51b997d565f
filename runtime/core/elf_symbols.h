// Finding a function of a loaded library without dlsym: for the one place the
// shim cannot use dlsym to reach libc — dlsym itself, which librespct.so
// interposes (preload/dlsym.cc). Walks the object's dynamic symbol table
// through its GNU hash table, as the loader does.
//
// Not async-signal-safe (dl_iterate_phdr takes the loader's lock).
#pragma once

#include <string_view>

namespace respct::core {

// Address of the defined function or object `symbol` in the loaded object
// whose file name starts with `library_prefix` (e.g. "libc.so"), or null.
void* FindLoadedSymbol(std::string_view library_prefix, const char* symbol);

}  // namespace respct::core
