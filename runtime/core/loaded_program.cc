#include "runtime/core/loaded_program.h"

#include <elf.h>
#include <link.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstring>

namespace respct::core {
namespace {

constexpr size_t kPage = 4096;
uintptr_t PageDown(uintptr_t v) { return v & ~(kPage - 1); }
uintptr_t PageUp(uintptr_t v) { return (v + kPage - 1) & ~(kPage - 1); }

constexpr size_t kMaxUnparkable = 32;
CodeRange g_unparkable[kMaxUnparkable];
size_t g_unparkable_count = 0;

// Libraries whose internal state is per process (re-initialised, never
// restored): a thread must not be resumed in the middle of their code.
bool IsUnparkableLibrary(const std::string& name) {
  const size_t slash = name.rfind('/');
  const std::string base = slash == std::string::npos ? name : name.substr(slash + 1);
  return base.rfind("libc.so", 0) == 0 || base.rfind("ld-linux", 0) == 0 || base.rfind("librespct", 0) == 0 ||
         base.rfind("libgcc_s", 0) == 0 || base.rfind("libpthread", 0) == 0;
}

void ReadBuildId(const dl_phdr_info* info, std::vector<uint8_t>* out) {
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_NOTE) continue;
    auto p = reinterpret_cast<const uint8_t*>(info->dlpi_addr + ph.p_vaddr);
    const uint8_t* end = p + ph.p_memsz;
    while (p + sizeof(ElfW(Nhdr)) <= end) {
      ElfW(Nhdr) nh;
      std::memcpy(&nh, p, sizeof nh);
      const uint8_t* name = p + sizeof nh;
      const uint8_t* desc = name + ((nh.n_namesz + 3) & ~3u);
      if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 && std::memcmp(name, "GNU", 4) == 0) {
        out->assign(desc, desc + nh.n_descsz);
        return;
      }
      p = desc + ((nh.n_descsz + 3) & ~3u);
    }
  }
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
    uintptr_t w_lo = 0, w_hi = 0, relro_hi = 0;
    for (int i = 0; i < info->dlpi_phnum; ++i) {
      const ElfW(Phdr)& ph = info->dlpi_phdr[i];
      const uintptr_t lo = info->dlpi_addr + ph.p_vaddr;
      if (ph.p_type == PT_LOAD && (ph.p_flags & PF_W)) {
        w_lo = w_lo == 0 ? PageDown(lo) : std::min(w_lo, PageDown(lo));
        w_hi = std::max(w_hi, PageUp(lo + ph.p_memsz));
      } else if (ph.p_type == PT_GNU_RELRO) {
        relro_hi = PageDown(lo + ph.p_memsz);  // the loader protects whole pages below this
      } else if (ph.p_type == PT_TLS) {
        prog->tls_size = ph.p_memsz;
        prog->tls_align = ph.p_align;
      }
    }
    if (relro_hi > w_lo) w_lo = std::min(relro_hi, w_hi);
    prog->globals_base = w_lo;
    prog->globals_size = w_hi - w_lo;
    ReadBuildId(info, &prog->build_id);
    return 0;
  }
  if (name.empty()) return 0;  // the vDSO
  prog->libraries.push_back(LibraryInfo{name, info->dlpi_addr});
  if (!IsUnparkableLibrary(name)) return 0;
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type == PT_LOAD && (ph.p_flags & PF_X)) {
      const uintptr_t lo = info->dlpi_addr + ph.p_vaddr;
      prog->unparkable_code.push_back(CodeRange{lo, lo + ph.p_memsz});
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
  std::sort(prog.unparkable_code.begin(), prog.unparkable_code.end(),
            [](const CodeRange& a, const CodeRange& b) { return a.lo < b.lo; });
  return prog;
}

void SetUnparkableCode(const std::vector<CodeRange>& ranges) {
  g_unparkable_count = std::min(ranges.size(), kMaxUnparkable);
  std::copy_n(ranges.begin(), g_unparkable_count, g_unparkable);
}

bool PcIsParkable(uintptr_t pc) {
  for (size_t i = 0; i < g_unparkable_count; ++i)
    if (pc >= g_unparkable[i].lo && pc < g_unparkable[i].hi) return false;
  return true;
}

uintptr_t ExecutableTlsBlock() {
  uintptr_t addr = 0;
  dl_iterate_phdr(FindExeTls, &addr);
  return addr;
}

}  // namespace respct::core
