// The meta region: the first persisted region, holding what a recovery needs
// besides the application's own memory — which epoch the image is, the
// layout, the identity of the process that wrote it, and the thread table.
//
// Layout (little-endian, at Layout::meta_base()):
//   MetaHeader   kMetaHeaderBytes (fields below)
//   ThreadSlot   [max_threads], starting at `slots_offset`
//   thread keys  page-aligned after the slots (thread_keys.h), at MetaKeysOffset
// The header is rewritten by the coordinator at every capture (epoch) and by
// the runtime at start-up (identity); everything in it is shipped like any
// other persisted byte.
#pragma once

#include <cstddef>
#include <cstdint>

#include "runtime/base/page.h"
#include "runtime/base/status.h"
#include "runtime/core/layout.h"
#include "runtime/core/thread_table.h"

namespace respct::core {

inline constexpr uint64_t kMetaMagic = 0x544d544350534552;  // "RESPCTMT"
inline constexpr uint32_t kMetaVersion = 5;
inline constexpr size_t kMaxRegionIds = 8;  // region ids 1..7 (layout.h); index 0 unused
inline constexpr size_t kMaxLibraries = 64;
// Libraries whose data is persisted, one region each (with the five regions
// of layout.h, within wire::kMaxRegions).
inline constexpr size_t kMaxLibraryGlobals = 24;
inline constexpr size_t kMetaHeaderBytes = 4 * kPageSize;
inline constexpr uint32_t kMetaExitedMark = 0x54495845;  // "EXIT"

struct LibraryEntry {
  uint64_t load_addr;
  char name[120];
};

// One persisted library's data: the region kLibraryGlobalsFirstRegion + i.
// `baseline` is a heap block holding the region as it was when the runtime
// came up in the process that wrote the image (after the libraries' own
// constructors, before the executable's): the bytes that differ from it are
// the program's doing, and only those are restored (Recovery::RestoreMemory).
struct LibraryGlobalsEntry {
  uint64_t base;
  uint64_t size;
  uint64_t baseline;
  char name[104];
};

struct MetaHeader {
  uint64_t magic;
  uint32_t version;
  uint32_t max_threads;
  uint64_t epoch;         // the epoch whose capture last wrote this header
  uint64_t capture_unix_ns;
  // Layout of the persisted regions.
  uint64_t base;
  uint64_t heap_size;
  uint64_t stack_size;
  uint64_t globals_base;
  uint64_t globals_size;
  uint64_t slots_offset;
  // Bytes from each region's base that were ever in use, as of this capture
  // (indexed by region id; a high-water mark across recoveries too). Nothing
  // beyond was ever written, so the image is zero there: a recovery fetches
  // and restores only this prefix.
  uint64_t written_bytes[kMaxRegionIds];
  // Identity of the process (checked by recovery).
  uint8_t build_id[32];
  uint32_t build_id_len;
  uint32_t library_count;
  uint8_t at_random[16];  // AT_RANDOM: stack-protector canary and pointer guard derive from it
  uint64_t tls_size;      // executable's static TLS block (PT_TLS memsz)
  uint64_t tls_align;
  char exe_path[256];
  LibraryEntry libraries[kMaxLibraries];
  // Heap address of the table of the program's anonymous mappings
  // (anonymous_maps.h), 0 before its first mmap. Written by that module only.
  uint64_t anonymous_maps;
  // kMetaExitedMark when this header was written by the final checkpoint of a
  // process that exited (exit() or a return from main); 0 otherwise. Tools
  // (respct-run --resume) tell a crashed run from a finished one by it.
  uint32_t exited;
  uint32_t library_globals_count;
  LibraryGlobalsEntry library_globals[kMaxLibraryGlobals];
};
static_assert(sizeof(MetaHeader) <= kMetaHeaderBytes);

inline size_t MetaSlotsOffset() { return kMetaHeaderBytes; }
inline size_t MetaKeysOffset(uint32_t max_threads) {
  return PageUp(MetaSlotsOffset() + sizeof(ThreadSlot) * max_threads);
}

// The one check of a meta header read back from an image, for every reader
// (the shim's recovery, respct-recover's fetch, respct-inspect): the magic
// (zero: no epoch was ever captured, FailedPrecondition; anything else wrong:
// Corruption), the version (FailedPrecondition: another respct wrote it), and
// the thread table where the writer puts it and inside the `region_size`
// bytes of meta region the reader holds (Corruption otherwise), so that a
// reader may then index any of max_threads slots. It trusts nothing else;
// what a resume needs beyond this is RecoveryImage::CheckResumable's.
Status CheckMetaHeader(const MetaHeader& m, uint64_t region_size);

// The thread slots of a checked meta region (`meta`, `size` bytes: the
// header and its table) that are neither free nor exited: the threads a
// recovery has to resume or restart. Checks the header first.
Result<uint32_t> LiveThreadsInMeta(const uint8_t* meta, size_t size);

// The bytes of region `id` (`size` bytes long) a copy of the image must
// hold: the meta region whole; any other up to what the header says was
// ever written of it (page-rounded: beyond, the image is zero); a region
// the header keeps no mark for, whole.
inline uint64_t RegionBytesInUse(const MetaHeader& m, uint32_t id, uint64_t size) {
  if (id == kMetaRegion || id >= kMaxRegionIds) return size;
  const uint64_t used = PageUp(m.written_bytes[id]);
  return used < size ? used : size;
}

inline MetaHeader* MetaAt(uintptr_t meta_base) { return reinterpret_cast<MetaHeader*>(meta_base); }
inline ThreadSlot* SlotsAt(uintptr_t meta_base) {
  return reinterpret_cast<ThreadSlot*>(meta_base + MetaSlotsOffset());
}

}  // namespace respct::core
