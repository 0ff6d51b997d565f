// ElfFile: a read-only view of one ELF file on disk (the executable or a
// shared library of an inspected app), for what a remote unwinder needs:
// the bytes of its loaded segments by virtual address, where its unwind
// index (.eh_frame_hdr) is, its symbols, and its build-id.
//
// Symbols come from .symtab, else from the separate debug file of the same
// build-id when one is installed, plus .dynsym.
//
// Addresses here are the file's own (link-time) virtual addresses; a Module
// (process_image.h) adds the load bias of the recorded process.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "runtime/base/status.h"

namespace respct::inspect {

class ElfFile {
 public:
  struct Segment {
    uint64_t vaddr;
    uint64_t memsz;
    uint64_t offset;
    uint64_t filesz;
    bool executable;
  };
  struct Symbol {
    uint64_t vaddr;
    uint64_t size;  // 0: unknown (up to the next symbol)
    std::string name;
  };

  // Maps `path` read-only and indexes it; fails on anything but a 64-bit
  // little-endian x86-64 ELF file.
  static Result<std::unique_ptr<ElfFile>> Open(const std::string& path);
  ~ElfFile();
  ElfFile(const ElfFile&) = delete;
  ElfFile& operator=(const ElfFile&) = delete;

  const std::string& path() const { return path_; }
  bool position_independent() const { return pie_; }
  const std::vector<Segment>& segments() const { return segments_; }
  // [lo, hi) covering every executable segment.
  uint64_t text_lo() const { return text_lo_; }
  uint64_t text_hi() const { return text_hi_; }
  // Start of the writable globals the runtime records for an executable
  // (core::PersistedGlobalsSpan, the rule loaded_program.cc applies too).
  uint64_t globals_vaddr() const { return globals_vaddr_; }
  const std::vector<uint8_t>& build_id() const { return build_id_; }

  // Copies `len` bytes at `vaddr` if they lie in one loaded segment (bytes
  // past the file image, .bss, read as zeros). False otherwise.
  bool Read(uint64_t vaddr, void* dst, size_t len) const;

  // The binary-search table of .eh_frame_hdr: where the header is, where its
  // table starts and how many entries it has. False when the file has no
  // usable index (libunwind then has no unwind info for it).
  struct UnwindIndex {
    uint64_t hdr_vaddr;
    uint64_t table_vaddr;
    uint64_t entries;
  };
  bool unwind_index(UnwindIndex* out) const;

  // The function symbol containing `vaddr`, or null.
  const Symbol* SymbolAt(uint64_t vaddr) const;

 private:
  ElfFile() = default;
  Status Index();
  // Adds the function symbols of the `symtab_type` sections of the ELF image
  // [data, data+size); returns whether it had such a section.
  bool LoadSymbols(const uint8_t* data, size_t size, uint32_t symtab_type);
  // Distributions strip .symtab from libraries and ship it in a separate
  // debug file found by build-id (/usr/lib/debug/.build-id/xx/yyyy.debug).
  void LoadDebugFileSymbols();

  std::string path_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  bool pie_ = false;
  std::vector<Segment> segments_;
  uint64_t text_lo_ = 0;
  uint64_t text_hi_ = 0;
  uint64_t globals_vaddr_ = 0;
  uint64_t eh_frame_hdr_ = 0;
  std::vector<uint8_t> build_id_;
  std::vector<Symbol> symbols_;  // sorted by vaddr
};

// Demangles C++ names; anything else comes back unchanged.
std::string Demangle(const std::string& name);

}  // namespace respct::inspect
