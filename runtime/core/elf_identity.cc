#include "runtime/core/elf_identity.h"

#include <algorithm>
#include <cstring>

#include "runtime/base/page.h"

namespace respct::core {
namespace {

uint64_t NoteAlign(uint64_t v) { return (v + 3) & ~uint64_t{3}; }

}  // namespace

VaddrSpan PersistedGlobalsSpan(const Elf64_Phdr* phdrs, size_t count) {
  VaddrSpan w;
  uint64_t relro_hi = 0;
  for (size_t i = 0; i < count; ++i) {
    const Elf64_Phdr& ph = phdrs[i];
    if (ph.p_type == PT_LOAD && (ph.p_flags & PF_W) != 0) {
      w.lo = w.hi == 0 ? PageDown(ph.p_vaddr) : std::min(w.lo, PageDown(ph.p_vaddr));
      w.hi = std::max(w.hi, PageUp(ph.p_vaddr + ph.p_memsz));
    } else if (ph.p_type == PT_GNU_RELRO) {
      relro_hi = PageDown(ph.p_vaddr + ph.p_memsz);  // the loader protects whole pages below this
    }
  }
  if (relro_hi > w.lo) w.lo = std::min(relro_hi, w.hi);
  return w;
}

std::vector<uint8_t> FindGnuBuildId(const uint8_t* notes, size_t len) {
  for (uint64_t off = 0; off + sizeof(Elf64_Nhdr) <= len;) {
    Elf64_Nhdr nh;
    std::memcpy(&nh, notes + off, sizeof nh);
    const uint64_t name_at = off + sizeof nh;
    const uint64_t desc_at = name_at + NoteAlign(nh.n_namesz);
    const uint64_t next = desc_at + NoteAlign(nh.n_descsz);
    if (next > len) break;
    if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 && std::memcmp(notes + name_at, "GNU", 4) == 0)
      return std::vector<uint8_t>(notes + desc_at, notes + desc_at + nh.n_descsz);
    off = next;
  }
  return {};
}

}  // namespace respct::core
