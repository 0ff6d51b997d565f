// ProcessImage: the recorded process of an app, reassembled for reading —
// its persisted memory (meta, heap, stacks, globals regions of the image, at
// the virtual addresses the process had) and its code (the executable and the
// libraries the meta region lists, opened from disk at their recorded load
// addresses). The unwinder reads through it; nothing is ever written.
//
// Region bytes are fetched from the ImageSource in 64 KiB chunks on first
// touch, so a backtrace reads a few pages of a 128 MiB stacks region, not all.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "runtime/base/status.h"
#include "runtime/core/meta_region.h"
#include "tools/inspect/elf_file.h"
#include "tools/inspect/image_source.h"

namespace respct::inspect {

class ProcessImage {
 public:
  struct Module {
    std::string path;
    uint64_t bias = 0;             // load address - link-time address
    std::unique_ptr<ElfFile> elf;  // null when the file could not be opened
    uint64_t lo = 0, hi = 0;       // loaded code range
  };

  // Reads the meta region (header and thread table) and opens the modules.
  // Fails when the image holds no respct meta region; a module that cannot
  // be opened is a warning (its frames show as bare addresses).
  static Result<std::unique_ptr<ProcessImage>> Load(ImageSource* source);

  const core::MetaHeader& meta() const { return meta_; }
  const std::vector<core::ThreadSlot>& slots() const { return slots_; }  // every slot of the table
  const std::vector<Module>& modules() const { return modules_; }
  const std::vector<std::string>& warnings() const { return warnings_; }

  // Copies process memory at `addr`: region bytes from the image, else code
  // and read-only data from the module files. False if nothing maps it.
  bool ReadMemory(uint64_t addr, void* dst, size_t len);
  const Module* ModuleAt(uint64_t addr) const;
  // "name+0xoff" (demangled), "module+0xoff" without a symbol, or "0xaddr".
  // A return address is looked up one byte back: the call it returns from
  // may be the last instruction of its function.
  std::string Symbolize(uint64_t pc, bool return_address = false) const;
  // The module's file name without directories, or "?".
  std::string ModuleName(uint64_t addr) const;

  // Re-reads the header's epoch: a live writer may commit while we read.
  Result<uint64_t> CurrentMetaEpoch();

 private:
  explicit ProcessImage(ImageSource* source) : source_(source) {}
  Status OpenModules();
  bool ReadRegion(uint64_t addr, void* dst, size_t len);

  ImageSource* source_;
  core::MetaHeader meta_{};
  std::vector<core::ThreadSlot> slots_;
  std::vector<Module> modules_;
  std::vector<std::string> warnings_;
  std::map<uint64_t, std::vector<uint8_t>> chunks_;  // chunk address -> bytes
};

}  // namespace respct::inspect
