// What respct reads from an executable's program headers to lay out and
// identify it: the span of its globals that are persisted, and its GNU
// build-id. One definition for the runtime (which reads the loader's
// in-memory headers, loaded_program.cc) and for respct-inspect (which reads
// the file, tools/inspect/elf_file.cc): the two must agree on which pages are
// the globals, or the inspector would misplace what the runtime recorded.
//
// Addresses are link-time virtual addresses; add the load bias for a process.
#pragma once

#include <elf.h>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace respct::core {

struct VaddrSpan {
  uint64_t lo = 0;
  uint64_t hi = 0;  // lo == hi: empty
};

// The writable PT_LOAD pages above PT_GNU_RELRO: .data and .bss, without
// the pages the loader write-protects after relocation (which would fault if
// restored, and hold nothing the program writes). Page-aligned outward.
VaddrSpan PersistedGlobalsSpan(const Elf64_Phdr* phdrs, size_t count);

// The descriptor of the NT_GNU_BUILD_ID note among the notes of one
// PT_NOTE segment, [notes, notes + len). Empty when there is none; a
// truncated note ends the search.
std::vector<uint8_t> FindGnuBuildId(const uint8_t* notes, size_t len);

}  // namespace respct::core
