#include "runtime/core/loaded_program.h"

#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <map>

#include "runtime/core/elf_identity.h"

namespace respct::core {
namespace {

constexpr size_t kMaxRuntimeCode = 32;
CodeRange g_runtime_code[kMaxRuntimeCode];
size_t g_runtime_code_count = 0;

std::string BaseName(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// Libraries whose internal state is per process (re-initialised, never
// restored), and so who owns their code; the program owns everything else.
bool RuntimeLibrary(const std::string& name, CodeOwner* owner) {
  const std::string base = BaseName(name);
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

// What the dependency walk needs of one loaded object.
struct LoadedObject {
  std::string name;  // dlpi_name (a path); empty for the executable
  std::string soname;
  std::vector<std::string> needed;  // DT_NEEDED, as written (sonames)
  uintptr_t load_addr = 0;
  VaddrSpan globals;
  bool defines_malloc = false;  // an allocator that replaces libc's (jemalloc, tcmalloc)
};

// The GNU hash of a symbol name (the DT_GNU_HASH section's function).
uint32_t GnuHash(const char* name) {
  uint32_t h = 5381;
  for (const unsigned char* c = reinterpret_cast<const unsigned char*>(name); *c != 0; ++c) h = h * 33 + *c;
  return h;
}

// Whether the object's dynamic symbol table defines `name`, looked up through
// its DT_GNU_HASH table (every object Debian ships has one; without it the
// answer is no). `symtab`, `strtab` and `gnu_hash` are relocated addresses.
bool DefinesSymbol(uintptr_t symtab, uintptr_t strtab, uintptr_t gnu_hash, const char* name) {
  if (symtab == 0 || strtab == 0 || gnu_hash == 0) return false;
  const uint32_t* table = reinterpret_cast<const uint32_t*>(gnu_hash);
  const uint32_t nbuckets = table[0], symoffset = table[1], bloom_size = table[2];
  if (nbuckets == 0) return false;
  const uint32_t* buckets = reinterpret_cast<const uint32_t*>(
      reinterpret_cast<const ElfW(Addr)*>(table + 4) + bloom_size);
  const uint32_t* chain = buckets + nbuckets;
  const uint32_t h = GnuHash(name);
  uint32_t i = buckets[h % nbuckets];
  if (i < symoffset) return false;
  const auto* syms = reinterpret_cast<const ElfW(Sym)*>(symtab);
  const char* str = reinterpret_cast<const char*>(strtab);
  for (;; ++i) {
    const uint32_t ch = chain[i - symoffset];
    if ((ch | 1) == (h | 1) && std::strcmp(str + syms[i].st_name, name) == 0)
      return syms[i].st_shndx != SHN_UNDEF && ELF64_ST_TYPE(syms[i].st_info) == STT_FUNC;
    if ((ch & 1) != 0) return false;
  }
}

// DT_SONAME and DT_NEEDED from the object's in-memory dynamic section. ld.so
// relocates DT_STRTAB in place for the objects it loaded, not for the vDSO:
// an address below the load address is still an unrelocated vaddr.
void ReadDynamic(const dl_phdr_info* info, LoadedObject* obj) {
  const ElfW(Dyn)* dyn = nullptr;
  for (int i = 0; i < info->dlpi_phnum; ++i)
    if (info->dlpi_phdr[i].p_type == PT_DYNAMIC)
      dyn = reinterpret_cast<const ElfW(Dyn)*>(info->dlpi_addr + info->dlpi_phdr[i].p_vaddr);
  if (dyn == nullptr) return;
  uintptr_t strtab = 0, symtab = 0, gnu_hash = 0;
  for (const ElfW(Dyn)* d = dyn; d->d_tag != DT_NULL; ++d) {
    if (d->d_tag == DT_STRTAB) strtab = d->d_un.d_ptr;
    if (d->d_tag == DT_SYMTAB) symtab = d->d_un.d_ptr;
    if (d->d_tag == DT_GNU_HASH) gnu_hash = d->d_un.d_ptr;
  }
  if (strtab == 0) return;
  auto relocate = [&](uintptr_t* a) {
    if (*a != 0 && *a < info->dlpi_addr) *a += info->dlpi_addr;
  };
  relocate(&strtab);
  relocate(&symtab);
  relocate(&gnu_hash);
  obj->defines_malloc = DefinesSymbol(symtab, strtab, gnu_hash, "malloc");
  const char* str = reinterpret_cast<const char*>(strtab);
  for (const ElfW(Dyn)* d = dyn; d->d_tag != DT_NULL; ++d) {
    if (d->d_tag == DT_NEEDED) obj->needed.emplace_back(str + d->d_un.d_val);
    if (d->d_tag == DT_SONAME) obj->soname = str + d->d_un.d_val;
  }
}

// Indices of the objects reachable through DT_NEEDED from `root`, itself
// included. A needed name matches an object's soname or its file name.
std::vector<bool> NeededClosure(const std::vector<LoadedObject>& objs, size_t root) {
  std::map<std::string, size_t> by_name;
  for (size_t i = 0; i < objs.size(); ++i) {
    if (!objs[i].soname.empty()) by_name.emplace(objs[i].soname, i);
    if (!objs[i].name.empty()) by_name.emplace(BaseName(objs[i].name), i);
  }
  std::vector<bool> in(objs.size(), false);
  std::vector<size_t> todo{root};
  in[root] = true;
  while (!todo.empty()) {
    const size_t at = todo.back();
    todo.pop_back();
    for (const std::string& n : objs[at].needed) {
      auto it = by_name.find(n);
      if (it == by_name.end() || in[it->second]) continue;
      in[it->second] = true;
      todo.push_back(it->second);
    }
  }
  return in;
}

// The program's own libraries (LoadedProgram::library_globals): needed by the
// executable, not by librespct, not one of the runtime libraries, and not an
// allocator that replaces malloc. Such an allocator (Debian's redis links
// jemalloc) sets itself up in its constructor, before respct runs, in mappings
// respct never saw: its globals restored over a fresh set-up would point into
// memory the new process does not have (redis crashed in mallctl).
void FindProgramLibraries(const std::vector<LoadedObject>& objs, LoadedProgram* prog) {
  if (objs.empty()) return;
  const std::vector<bool> program = NeededClosure(objs, 0);
  std::vector<bool> respct(objs.size(), false);
  for (size_t i = 1; i < objs.size(); ++i)
    if (BaseName(objs[i].name).rfind("librespct", 0) == 0) respct = NeededClosure(objs, i);
  for (size_t i = 1; i < objs.size(); ++i) {
    const LoadedObject& o = objs[i];
    CodeOwner owner;
    if (!program[i] || respct[i] || o.name.empty() || RuntimeLibrary(o.name, &owner) || o.defines_malloc ||
        o.globals.hi == o.globals.lo)
      continue;
    prog->library_globals.push_back(
        LibraryGlobals{o.name, o.load_addr + o.globals.lo, static_cast<size_t>(o.globals.hi - o.globals.lo)});
  }
}

struct InspectState {
  LoadedProgram* prog;
  std::vector<LoadedObject> objects;
  bool first = true;
};

int OnObject(dl_phdr_info* info, size_t, void* data) {
  auto* st = static_cast<InspectState*>(data);
  LoadedProgram* prog = st->prog;
  const bool is_exe = st->first;
  st->first = false;
  std::string name = info->dlpi_name != nullptr ? info->dlpi_name : "";
  LoadedObject obj;
  obj.name = is_exe ? "" : name;
  obj.load_addr = info->dlpi_addr;
  obj.globals = PersistedGlobalsSpan(info->dlpi_phdr, info->dlpi_phnum);
  ReadDynamic(info, &obj);
  st->objects.push_back(std::move(obj));
  if (is_exe) {
    const VaddrSpan globals = st->objects.back().globals;
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
  InspectState st{&prog, {}};
  dl_iterate_phdr(OnObject, &st);
  FindProgramLibraries(st.objects, &prog);
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
