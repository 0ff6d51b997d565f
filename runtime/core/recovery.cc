#include "runtime/core/recovery.h"

#include <sys/auxv.h>

#include <algorithm>
#include <cstring>

namespace respct::core {
namespace {

std::string Hex(const uint8_t* p, size_t n) {
  static const char kDigits[] = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < n; ++i) {
    s += kDigits[p[i] >> 4];
    s += kDigits[p[i] & 15];
  }
  return s.empty() ? "(none)" : s;
}

std::string Addr(uint64_t a) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(a));
  return buf;
}

Status CheckIdentity(const MetaHeader& m, const LoadedProgram& p) {
  const std::string refuse = "the image cannot be resumed by this process: ";
  if (m.build_id_len != p.build_id.size() || std::memcmp(m.build_id, p.build_id.data(), m.build_id_len) != 0)
    return Status::FailedPrecondition(refuse + "the program changed since the image was taken (build-id " +
                                      Hex(m.build_id, m.build_id_len) + " in the image, " +
                                      Hex(p.build_id.data(), p.build_id.size()) + " for " + p.exe_path + ")");
  if (m.globals_base != p.globals_base || m.globals_size != p.globals_size)
    return Status::FailedPrecondition(refuse + "the executable's globals are at " + Addr(p.globals_base) + " (" +
                                      std::to_string(p.globals_size) + " bytes), the image has them at " +
                                      Addr(m.globals_base) + " (" + std::to_string(m.globals_size) +
                                      " bytes): was ASLR on?");
  if (m.tls_size != p.tls_size || m.tls_align != p.tls_align)
    return Status::FailedPrecondition(refuse + "static TLS block of " + std::to_string(p.tls_size) +
                                      " bytes, the image's is " + std::to_string(m.tls_size));
  const size_t n = std::min<size_t>(p.libraries.size(), kMaxLibraries);
  for (size_t i = 0; i < std::max<size_t>(n, m.library_count); ++i) {
    const std::string have =
        i < n ? p.libraries[i].name + " at " + Addr(p.libraries[i].load_addr) : std::string("nothing");
    const std::string want = i < m.library_count ? std::string(m.libraries[i].name, strnlen(m.libraries[i].name,
                                                                                             sizeof m.libraries[i].name)) +
                                                       " at " + Addr(m.libraries[i].load_addr)
                                                 : std::string("nothing");
    if (have != want)
      return Status::FailedPrecondition(refuse + "loaded libraries differ (library " + std::to_string(i) + ": " +
                                        have + " now, " + want + " in the image)");
  }
  const size_t libs = std::min<size_t>(p.library_globals.size(), kMaxLibraryGlobals);
  if (m.library_globals_count != libs)
    return Status::FailedPrecondition(refuse + "the image persists the data of " +
                                      std::to_string(m.library_globals_count) + " libraries, this process of " +
                                      std::to_string(libs));
  for (size_t i = 0; i < libs; ++i) {
    const LibraryGlobalsEntry& e = m.library_globals[i];
    if (e.base != p.library_globals[i].base || e.size != p.library_globals[i].size)
      return Status::FailedPrecondition(refuse + "the data of " + p.library_globals[i].name + " is at " +
                                        Addr(p.library_globals[i].base) + ", the image has it at " + Addr(e.base));
  }
  const auto* random = reinterpret_cast<const uint8_t*>(getauxval(AT_RANDOM));
  if (random == nullptr || std::memcmp(random, m.at_random, sizeof m.at_random) != 0)
    return Status::FailedPrecondition(refuse +
                                      "AT_RANDOM differs (stack-protector canary and pointer guard would not "
                                      "match the saved frames): start the recovery with respct-recover");
  return Status::OK();
}

}  // namespace

Result<std::unique_ptr<Recovery>> Recovery::Prepare(const RuntimeConfig& config, const LoadedProgram& program,
                                                    Layout* layout) {
  auto img = RecoveryImage::Open(config.recover_image);
  if (!img.ok()) return img.status();
  const MetaHeader& m = img->meta();
  RESPCT_RETURN_IF_ERROR(CheckIdentity(m, program));
  RESPCT_RETURN_IF_ERROR(img->CheckResumable(config.recover_image));
  *layout = img->ImageLayout();
  return std::unique_ptr<Recovery>(new Recovery(std::move(img.value())));
}

namespace {

// One library's data: a word the program changed (the image's differs from
// the baseline of the process that wrote it) takes the image's value; the
// others keep what this process's start-up gave them (pointers into its own
// pre-runtime allocations, a cached pid...). The baseline becomes this
// process's start-up state, so that the next image compares with it.
void MergeLibraryGlobals(const uint8_t* image, size_t stored, const std::vector<uint8_t>& startup,
                         const LibraryGlobalsEntry& e) {
  auto* mem = reinterpret_cast<uint64_t*>(e.base);
  auto* baseline = reinterpret_cast<uint64_t*>(e.baseline);
  const size_t words = e.size / sizeof(uint64_t);
  for (size_t i = 0; i < words; ++i) {
    uint64_t img = 0;
    if ((i + 1) * sizeof img <= stored) std::memcpy(&img, image + i * sizeof img, sizeof img);
    if (img != baseline[i]) mem[i] = img;
    std::memcpy(&baseline[i], startup.data() + i * sizeof img, sizeof img);
  }
}

}  // namespace

void Recovery::RestoreMemory(const std::vector<RegionMapping>& regions, const std::vector<AddressRange>& process_owned,
                             const std::vector<std::vector<uint8_t>>& library_startup) const {
  // In region order: the heap, where the libraries' baselines are, comes first.
  for (const RegionMapping& r : regions) {
    const RecoveryRegion* from = image_.region(r.id);
    if (from == nullptr) continue;
    if (r.id >= kLibraryGlobalsFirstRegion) {
      const size_t i = r.id - kLibraryGlobalsFirstRegion;
      const LibraryGlobalsEntry& e = image_.meta().library_globals[i];
      if (i < library_startup.size() && e.size == r.size && library_startup[i].size() == r.size)
        MergeLibraryGlobals(image_.bytes(*from), std::min<uint64_t>(from->stored, r.size), library_startup[i], e);
      continue;
    }
    if (r.id != kGlobalsRegion) {
      image_.CopyOut(*from, 0, std::min<uint64_t>(from->stored, r.size), reinterpret_cast<void*>(r.base));
      continue;
    }
    // The globals: the image's bytes around the ranges this process owns.
    uintptr_t at = r.base;
    const uintptr_t end = r.base + r.size;
    for (const AddressRange& keep : process_owned) {
      const uintptr_t lo = std::clamp(keep.lo, r.base, end), hi = std::clamp(keep.hi, r.base, end);
      if (lo > at) image_.CopyOut(*from, at - r.base, lo - at, reinterpret_cast<void*>(at));
      at = std::max(at, hi);
    }
    if (end > at) image_.CopyOut(*from, at - r.base, end - at, reinterpret_cast<void*>(at));
  }
}

void Recovery::RestoreThreadStack(const ThreadSlot& slot, uintptr_t stacks_base) const {
  const RecoveryRegion& stacks = *image_.region(kStackRegion);
  image_.CopyOut(stacks, slot.fctx - stacks_base, slot.entry_sp - slot.fctx, reinterpret_cast<void*>(slot.fctx));
  if (slot.tls_addr != 0 && slot.tls_size != 0)
    std::memcpy(reinterpret_cast<void*>(slot.tls_addr), slot.tls_image, slot.tls_size);
}

}  // namespace respct::core
