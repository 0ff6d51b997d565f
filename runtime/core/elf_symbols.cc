#include "runtime/core/elf_symbols.h"

#include <elf.h>
#include <link.h>

#include <cstdint>
#include <cstring>
#include <string>

namespace respct::core {
namespace {

struct Lookup {
  std::string_view prefix;
  const char* symbol;
  void* found = nullptr;
};

uint32_t GnuHash(const char* s) {
  uint32_t h = 5381;
  for (const auto* p = reinterpret_cast<const unsigned char*>(s); *p != 0; ++p) h = h * 33 + *p;
  return h;
}

// The loader has relocated the dynamic section's pointers to run-time
// addresses for every object but the vDSO, which we never search.
void* Find(const dl_phdr_info* info, const char* symbol) {
  const ElfW(Dyn)* dyn = nullptr;
  for (int i = 0; i < info->dlpi_phnum; ++i)
    if (info->dlpi_phdr[i].p_type == PT_DYNAMIC)
      dyn = reinterpret_cast<const ElfW(Dyn)*>(info->dlpi_addr + info->dlpi_phdr[i].p_vaddr);
  if (dyn == nullptr) return nullptr;
  const ElfW(Sym)* symtab = nullptr;
  const char* strtab = nullptr;
  const uint32_t* gnu_hash = nullptr;
  for (; dyn->d_tag != DT_NULL; ++dyn) {
    if (dyn->d_tag == DT_SYMTAB) symtab = reinterpret_cast<const ElfW(Sym)*>(dyn->d_un.d_ptr);
    if (dyn->d_tag == DT_STRTAB) strtab = reinterpret_cast<const char*>(dyn->d_un.d_ptr);
    if (dyn->d_tag == DT_GNU_HASH) gnu_hash = reinterpret_cast<const uint32_t*>(dyn->d_un.d_ptr);
  }
  if (symtab == nullptr || strtab == nullptr || gnu_hash == nullptr) return nullptr;
  // GNU hash: nbuckets, symoffset, bloom words, bloom shift, then the bloom
  // filter (ElfW(Addr) words), the buckets and the chains.
  const uint32_t nbuckets = gnu_hash[0], symoffset = gnu_hash[1], bloom_words = gnu_hash[2];
  const auto* buckets = reinterpret_cast<const uint32_t*>(reinterpret_cast<const ElfW(Addr)*>(gnu_hash + 4) +
                                                          bloom_words);
  const uint32_t* chains = buckets + nbuckets;
  if (nbuckets == 0) return nullptr;
  const uint32_t h = GnuHash(symbol);
  for (uint32_t i = buckets[h % nbuckets]; i >= symoffset; ++i) {
    const uint32_t chain = chains[i - symoffset];
    const ElfW(Sym)& s = symtab[i];
    if ((chain | 1) == (h | 1) && s.st_shndx != SHN_UNDEF && std::strcmp(strtab + s.st_name, symbol) == 0)
      return reinterpret_cast<void*>(info->dlpi_addr + s.st_value);
    if ((chain & 1) != 0) break;  // end of this bucket's chain
  }
  return nullptr;
}

int OnObject(dl_phdr_info* info, size_t, void* data) {
  auto* l = static_cast<Lookup*>(data);
  if (info->dlpi_name == nullptr) return 0;
  const char* slash = std::strrchr(info->dlpi_name, '/');
  const std::string_view base(slash != nullptr ? slash + 1 : info->dlpi_name);
  if (base.substr(0, l->prefix.size()) != l->prefix) return 0;
  l->found = Find(info, l->symbol);
  return l->found != nullptr ? 1 : 0;
}

}  // namespace

void* FindLoadedSymbol(std::string_view library_prefix, const char* symbol) {
  Lookup l{library_prefix, symbol};
  dl_iterate_phdr(OnObject, &l);
  return l.found;
}

}  // namespace respct::core
