#include "runtime/core/loaded_program.h"

#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstring>

#include "runtime/core/elf_identity.h"

namespace respct::core {
namespace {

constexpr size_t kMaxRuntimeCode = 32;
CodeRange g_runtime_code[kMaxRuntimeCode];
size_t g_runtime_code_count = 0;

// Libraries whose internal state is per process (re-initialised, never
// restored), and so who owns their code; the program owns everything else.
bool RuntimeLibrary(const std::string& name, CodeOwner* owner) {
  const size_t slash = name.rfind('/');
  const std::string base = slash == std::string::npos ? name : name.substr(slash + 1);
  auto starts = [&](const char* prefix) { return base.rfind(prefix, 0) == 0; };
  // The vDSO counts as libc's: a thread may park in it only at a system call
  // (its frames carry no unwind information for respct-inspect either).
  if (starts("libc.so") || starts("libpthread") || starts("linux-vdso")) {
    *owner = CodeOwner::kLibc;
  } else if (starts("ld-linux")) {
    *owner = CodeOwner::kLoader;
  } else if (starts("librespct")) {
    *owner = CodeOwner::kShim;
  } else if (starts("libgcc_s")) {
    *owner = CodeOwner::kUnwinder;
  } else {
    return false;
  }
  return true;
}

struct InspectState {
  LoadedProgram* prog;
  bool first = true;
};

int OnObject(dl_phdr_info* info, size_t, void* data) {
  auto* st = static_cast<InspectState*>(data);
  LoadedProgram* prog = st->prog;
  const bool is_exe = st->first;
  st->first = false;
  std::string name = info->dlpi_name != nullptr ? info->dlpi_name : "";
  if (is_exe) {
    const VaddrSpan globals = PersistedGlobalsSpan(info->dlpi_phdr, info->dlpi_phnum);
    for (int i = 0; i < info->dlpi_phnum; ++i) {
      const ElfW(Phdr)& ph = info->dlpi_phdr[i];
      if (ph.p_type == PT_TLS) {
        prog->tls_size = ph.p_memsz;
        prog->tls_align = ph.p_align;
      } else if (ph.p_type == PT_NOTE && prog->build_id.empty()) {
        prog->build_id = FindGnuBuildId(reinterpret_cast<const uint8_t*>(info->dlpi_addr + ph.p_vaddr), ph.p_memsz);
      }
    }
    prog->load_bias = info->dlpi_addr;
    prog->globals_base = globals.lo == globals.hi ? 0 : info->dlpi_addr + globals.lo;
    prog->globals_size = globals.hi - globals.lo;
    return 0;
  }
  if (name.empty()) return 0;
  prog->libraries.push_back(LibraryInfo{name, info->dlpi_addr});
  CodeOwner owner;
  if (!RuntimeLibrary(name, &owner)) return 0;
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type == PT_LOAD && (ph.p_flags & PF_X)) {
      const uintptr_t lo = info->dlpi_addr + ph.p_vaddr;
      prog->runtime_code.push_back(CodeRange{lo, lo + ph.p_memsz, owner});
    }
  }
  return 0;
}

int FindExeTls(dl_phdr_info* info, size_t, void* data) {
  *static_cast<uintptr_t*>(data) = reinterpret_cast<uintptr_t>(info->dlpi_tls_data);
  return 1;  // the executable is always first
}

}  // namespace

Result<LoadedProgram> LoadedProgram::Inspect() {
  LoadedProgram prog;
  char path[PATH_MAX];
  const ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
  if (n < 0) return Status::FromErrno("readlink /proc/self/exe", errno);
  prog.exe_path.assign(path, static_cast<size_t>(n));
  InspectState st{&prog};
  dl_iterate_phdr(OnObject, &st);
  std::sort(prog.runtime_code.begin(), prog.runtime_code.end(),
            [](const CodeRange& a, const CodeRange& b) { return a.lo < b.lo; });
  return prog;
}

namespace {

// The executable file, read with pread: its dynamic section as the linker
// wrote it (ld.so rewrites some of the in-memory copy's pointers).
class ElfFile {
 public:
  explicit ElfFile(int fd) : fd_(fd) {}
  ~ElfFile() { close(fd_); }
  bool Read(uint64_t off, void* dst, size_t len) const {
    return pread(fd_, dst, len, static_cast<off_t>(off)) == static_cast<ssize_t>(len);
  }
  // File offset of virtual address `vaddr` (unbiased), via the PT_LOAD headers.
  bool OffsetOf(uint64_t vaddr, uint64_t* off) const {
    for (const ElfW(Phdr)& ph : loads_) {
      if (vaddr >= ph.p_vaddr && vaddr < ph.p_vaddr + ph.p_filesz) {
        *off = ph.p_offset + (vaddr - ph.p_vaddr);
        return true;
      }
    }
    return false;
  }
  std::vector<ElfW(Phdr)> loads_;
  ElfW(Phdr) dynamic_{};

 private:
  int fd_;
};

}  // namespace

Status LoadedProgram::FindProcessOwnedGlobals() {
  process_owned_globals.clear();
  const int fd = open(exe_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno("open " + exe_path, errno);
  ElfFile elf(fd);
  const Status bad = Status::Corruption(exe_path + ": malformed ELF dynamic section");
  ElfW(Ehdr) eh;
  if (!elf.Read(0, &eh, sizeof eh) || std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0) return bad;
  for (unsigned i = 0; i < eh.e_phnum; ++i) {
    ElfW(Phdr) ph;
    if (!elf.Read(eh.e_phoff + uint64_t{i} * eh.e_phentsize, &ph, sizeof ph)) return bad;
    if (ph.p_type == PT_LOAD) elf.loads_.push_back(ph);
    if (ph.p_type == PT_DYNAMIC) elf.dynamic_ = ph;
  }
  if (elf.dynamic_.p_filesz == 0) return Status::OK();  // static executable: nothing copied
  uint64_t rela = 0, relasz = 0, relaent = sizeof(ElfW(Rela)), symtab = 0, syment = sizeof(ElfW(Sym));
  uint64_t pltgot = 0, pltrelsz = 0;
  for (uint64_t off = 0; off + sizeof(ElfW(Dyn)) <= elf.dynamic_.p_filesz; off += sizeof(ElfW(Dyn))) {
    ElfW(Dyn) d;
    if (!elf.Read(elf.dynamic_.p_offset + off, &d, sizeof d)) return bad;
    if (d.d_tag == DT_NULL) break;
    if (d.d_tag == DT_RELA) rela = d.d_un.d_ptr;
    if (d.d_tag == DT_RELASZ) relasz = d.d_un.d_val;
    if (d.d_tag == DT_RELAENT) relaent = d.d_un.d_val;
    if (d.d_tag == DT_SYMTAB) symtab = d.d_un.d_ptr;
    if (d.d_tag == DT_SYMENT) syment = d.d_un.d_val;
    if (d.d_tag == DT_PLTGOT) pltgot = d.d_un.d_ptr;
    if (d.d_tag == DT_PLTRELSZ) pltrelsz = d.d_un.d_val;
  }
  // GOT[0..2] (dynamic section, link map, resolver) and one slot per PLT entry.
  if (pltgot != 0) {
    const uintptr_t lo = load_bias + pltgot;
    process_owned_globals.push_back(AddressRange{lo, lo + (3 + pltrelsz / sizeof(ElfW(Rela))) * sizeof(uintptr_t)});
  }
  uint64_t rela_off = 0, sym_off = 0;
  auto sorted = [this] {
    std::sort(process_owned_globals.begin(), process_owned_globals.end(),
              [](const AddressRange& a, const AddressRange& b) { return a.lo < b.lo; });
    return Status::OK();
  };
  if (relasz == 0) return sorted();
  if (!elf.OffsetOf(rela, &rela_off) || !elf.OffsetOf(symtab, &sym_off) || relaent < sizeof(ElfW(Rela))) return bad;
  for (uint64_t off = 0; off + relaent <= relasz; off += relaent) {
    ElfW(Rela) r;
    if (!elf.Read(rela_off + off, &r, sizeof r)) return bad;
    if (ELF64_R_TYPE(r.r_info) != R_X86_64_COPY) continue;
    ElfW(Sym) sym;
    if (!elf.Read(sym_off + ELF64_R_SYM(r.r_info) * syment, &sym, sizeof sym)) return bad;
    const uintptr_t lo = load_bias + r.r_offset;
    process_owned_globals.push_back(AddressRange{lo, lo + sym.st_size});
  }
  return sorted();
}

void SetRuntimeCode(const std::vector<CodeRange>& ranges) {
  g_runtime_code_count = std::min(ranges.size(), kMaxRuntimeCode);
  std::copy_n(ranges.begin(), g_runtime_code_count, g_runtime_code);
}

CodeOwner CodeOwnerAt(uintptr_t pc) {
  for (size_t i = 0; i < g_runtime_code_count; ++i)
    if (pc >= g_runtime_code[i].lo && pc < g_runtime_code[i].hi) return g_runtime_code[i].owner;
  return CodeOwner::kProgram;
}

uintptr_t ExecutableTlsBlock() {
  uintptr_t addr = 0;
  dl_iterate_phdr(FindExeTls, &addr);
  return addr;
}

}  // namespace respct::core
