#include "tools/inspect/elf_file.h"

#include <cxxabi.h>
#include <elf.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "runtime/core/elf_identity.h"

namespace respct::inspect {
namespace {

// .eh_frame_hdr encodings the linkers emit (and the only ones read here):
// eh_frame_ptr pc-relative sdata4, fde_count udata4, table datarel sdata4.
constexpr uint8_t kEhPcrelSdata4 = 0x1b;
constexpr uint8_t kEhUdata4 = 0x03;
constexpr uint8_t kEhDatarelSdata4 = 0x3b;

}  // namespace

std::string Demangle(const std::string& name) {
  if (!name.starts_with("_Z")) return name;
  int status = 0;
  char* d = abi::__cxa_demangle(name.c_str(), nullptr, nullptr, &status);
  if (d == nullptr) return name;
  std::string out(d);
  std::free(d);
  return out;
}

Result<std::unique_ptr<ElfFile>> ElfFile::Open(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno(path, errno);
  struct stat st;
  if (fstat(fd, &st) != 0 || st.st_size < static_cast<off_t>(sizeof(Elf64_Ehdr))) {
    close(fd);
    return Status::InvalidArgument(path + " is not an ELF file");
  }
  void* p = mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
  const int err = errno;
  close(fd);
  if (p == MAP_FAILED) return Status::FromErrno("mmap " + path, err);
  std::unique_ptr<ElfFile> f(new ElfFile());
  f->path_ = path;
  f->data_ = static_cast<const uint8_t*>(p);
  f->size_ = static_cast<size_t>(st.st_size);
  RESPCT_RETURN_IF_ERROR(f->Index());
  return f;
}

ElfFile::~ElfFile() {
  if (data_ != nullptr) munmap(const_cast<uint8_t*>(data_), size_);
}

Status ElfFile::Index() {
  Elf64_Ehdr eh;
  std::memcpy(&eh, data_, sizeof eh);
  if (std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
      eh.e_ident[EI_DATA] != ELFDATA2LSB || eh.e_machine != EM_X86_64)
    return Status::InvalidArgument(path_ + " is not a 64-bit x86-64 ELF file");
  pie_ = eh.e_type == ET_DYN;
  if (eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phoff > size_ ||
      uint64_t{eh.e_phnum} * sizeof(Elf64_Phdr) > size_ - eh.e_phoff)
    return Status::Corruption(path_ + ": bad program headers");
  std::vector<Elf64_Phdr> phdrs(eh.e_phnum);
  std::memcpy(phdrs.data(), data_ + eh.e_phoff, phdrs.size() * sizeof(Elf64_Phdr));
  for (const Elf64_Phdr& ph : phdrs) {
    if (ph.p_type == PT_LOAD) {
      if (ph.p_offset > size_ || ph.p_filesz > size_ - ph.p_offset) return Status::Corruption(path_ + ": bad segment");
      const bool x = (ph.p_flags & PF_X) != 0;
      segments_.push_back(Segment{ph.p_vaddr, ph.p_memsz, ph.p_offset, ph.p_filesz, x});
      if (x) {
        text_lo_ = text_hi_ == 0 ? ph.p_vaddr : std::min(text_lo_, ph.p_vaddr);
        text_hi_ = std::max(text_hi_, ph.p_vaddr + ph.p_memsz);
      }
    } else if (ph.p_type == PT_GNU_EH_FRAME) {
      eh_frame_hdr_ = ph.p_vaddr;
    } else if (ph.p_type == PT_NOTE && build_id_.empty() && ph.p_offset < size_ && ph.p_filesz <= size_ - ph.p_offset) {
      build_id_ = core::FindGnuBuildId(data_ + ph.p_offset, ph.p_filesz);
    }
  }
  globals_vaddr_ = core::PersistedGlobalsSpan(phdrs.data(), phdrs.size()).lo;
  if (!LoadSymbols(data_, size_, SHT_SYMTAB)) LoadDebugFileSymbols();
  LoadSymbols(data_, size_, SHT_DYNSYM);
  std::sort(symbols_.begin(), symbols_.end(), [](const Symbol& a, const Symbol& b) {
    return a.vaddr != b.vaddr ? a.vaddr < b.vaddr : a.size > b.size;
  });
  // .symtab and .dynsym repeat exported functions: keep the first of each address.
  symbols_.erase(std::unique(symbols_.begin(), symbols_.end(),
                             [](const Symbol& a, const Symbol& b) { return a.vaddr == b.vaddr; }),
                 symbols_.end());
  return Status::OK();
}

void ElfFile::LoadDebugFileSymbols() {
  if (build_id_.size() < 2) return;
  std::string hex;
  char b[3];
  for (uint8_t byte : build_id_) {
    std::snprintf(b, sizeof b, "%02x", byte);
    hex += b;
  }
  const std::string path = "/usr/lib/debug/.build-id/" + hex.substr(0, 2) + "/" + hex.substr(2) + ".debug";
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  struct stat st;
  void* p = MAP_FAILED;
  if (fstat(fd, &st) == 0 && st.st_size >= static_cast<off_t>(sizeof(Elf64_Ehdr)))
    p = mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
  close(fd);
  if (p == MAP_FAILED) return;
  const auto* data = static_cast<const uint8_t*>(p);
  if (std::memcmp(data, ELFMAG, SELFMAG) == 0 && data[EI_CLASS] == ELFCLASS64)
    LoadSymbols(data, static_cast<size_t>(st.st_size), SHT_SYMTAB);
  munmap(p, static_cast<size_t>(st.st_size));
}

bool ElfFile::LoadSymbols(const uint8_t* data, size_t size, uint32_t symtab_type) {
  Elf64_Ehdr eh;
  std::memcpy(&eh, data, sizeof eh);
  if (eh.e_shentsize != sizeof(Elf64_Shdr) || eh.e_shoff == 0 || eh.e_shoff > size ||
      uint64_t{eh.e_shnum} * sizeof(Elf64_Shdr) > size - eh.e_shoff)
    return false;
  auto section = [&](uint32_t i) {
    Elf64_Shdr sh;
    std::memcpy(&sh, data + eh.e_shoff + uint64_t{i} * sizeof sh, sizeof sh);
    return sh;
  };
  bool found = false;
  for (uint16_t i = 0; i < eh.e_shnum; ++i) {
    const Elf64_Shdr sh = section(i);
    if (sh.sh_type != symtab_type || sh.sh_entsize != sizeof(Elf64_Sym) || sh.sh_link >= eh.e_shnum) continue;
    const Elf64_Shdr strtab = section(sh.sh_link);
    if (sh.sh_offset > size || sh.sh_size > size - sh.sh_offset || strtab.sh_offset > size ||
        strtab.sh_size > size - strtab.sh_offset)
      continue;
    found = true;
    const char* strings = reinterpret_cast<const char*>(data + strtab.sh_offset);
    for (uint64_t off = 0; off + sizeof(Elf64_Sym) <= sh.sh_size; off += sizeof(Elf64_Sym)) {
      Elf64_Sym s;
      std::memcpy(&s, data + sh.sh_offset + off, sizeof s);
      const unsigned type = ELF64_ST_TYPE(s.st_info);
      if ((type != STT_FUNC && type != STT_GNU_IFUNC) || s.st_shndx == SHN_UNDEF || s.st_value == 0 ||
          s.st_name >= strtab.sh_size)
        continue;
      const char* name = strings + s.st_name;
      symbols_.push_back(Symbol{s.st_value, s.st_size, std::string(name, strnlen(name, strtab.sh_size - s.st_name))});
    }
  }
  return found;
}

bool ElfFile::Read(uint64_t vaddr, void* dst, size_t len) const {
  for (const Segment& s : segments_) {
    if (vaddr < s.vaddr || vaddr - s.vaddr > s.memsz || len > s.memsz - (vaddr - s.vaddr)) continue;
    auto* out = static_cast<uint8_t*>(dst);
    const uint64_t rel = vaddr - s.vaddr;
    const uint64_t from_file = rel < s.filesz ? std::min<uint64_t>(len, s.filesz - rel) : 0;
    if (from_file != 0) std::memcpy(out, data_ + s.offset + rel, from_file);
    std::memset(out + from_file, 0, len - from_file);
    return true;
  }
  return false;
}

bool ElfFile::unwind_index(UnwindIndex* out) const {
  if (eh_frame_hdr_ == 0) return false;
  uint8_t hdr[12];
  if (!Read(eh_frame_hdr_, hdr, sizeof hdr)) return false;
  if (hdr[0] != 1 || hdr[1] != kEhPcrelSdata4 || hdr[2] != kEhUdata4 || hdr[3] != kEhDatarelSdata4) return false;
  uint32_t count;
  std::memcpy(&count, hdr + 8, sizeof count);
  *out = UnwindIndex{eh_frame_hdr_, eh_frame_hdr_ + sizeof hdr, count};
  return true;
}

const ElfFile::Symbol* ElfFile::SymbolAt(uint64_t vaddr) const {
  auto it = std::upper_bound(symbols_.begin(), symbols_.end(), vaddr,
                             [](uint64_t v, const Symbol& s) { return v < s.vaddr; });
  if (it == symbols_.begin()) return nullptr;
  --it;
  if (it->size != 0 && vaddr >= it->vaddr + it->size) return nullptr;
  if (it->size == 0 && (vaddr < text_lo_ || vaddr >= text_hi_)) return nullptr;
  return &*it;
}

}  // namespace respct::inspect
