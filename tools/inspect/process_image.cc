#include "tools/inspect/process_image.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "runtime/core/layout.h"
#include "tools/inspect/app_listing.h"

namespace respct::inspect {
namespace {

constexpr uint64_t kChunk = 64 * 1024;
// Where the kernel maps a position-independent executable when ASLR is off
// (x86-64): respct-run always runs programs that way.
constexpr uint64_t kNoAslrPieBase = 0x555555554000;

std::string BaseName(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace

Result<std::unique_ptr<ProcessImage>> ProcessImage::Load(ImageSource* source) {
  const RegionSpec* meta = source->region(core::kMetaRegion);
  if (meta == nullptr)
    return Status::FailedPrecondition("app '" + source->app() + "' has no respct meta region");
  std::unique_ptr<ProcessImage> img(new ProcessImage(source));
  RESPCT_RETURN_IF_ERROR(source->Read(core::kMetaRegion, 0, &img->meta_, sizeof img->meta_));
  const core::MetaHeader& m = img->meta_;
  RESPCT_RETURN_IF_ERROR(core::CheckMetaHeader(m, meta->size).Annotate("the image of app '" + source->app() + "'"));
  img->slots_.resize(m.max_threads);
  RESPCT_RETURN_IF_ERROR(
      source->Read(core::kMetaRegion, m.slots_offset, img->slots_.data(), m.max_threads * sizeof(core::ThreadSlot)));
  RESPCT_RETURN_IF_ERROR(img->OpenModules());
  return img;
}

Result<uint64_t> ProcessImage::CurrentMetaEpoch() {
  uint64_t epoch = 0;
  RESPCT_RETURN_IF_ERROR(source_->Read(core::kMetaRegion, offsetof(core::MetaHeader, epoch), &epoch, sizeof epoch));
  return epoch;
}

Status ProcessImage::OpenModules() {
  const core::MetaHeader& m = meta_;
  auto add = [&](const std::string& path, bool is_exe, uint64_t load_addr) {
    Module mod;
    mod.path = path;
    auto elf = ElfFile::Open(path);
    if (!elf.ok()) {
      warnings_.push_back("cannot open " + path + ": " + elf.status().message() + " (its frames stay unnamed)");
      modules_.push_back(std::move(mod));
      return;
    }
    mod.elf = std::move(elf).value();
    if (is_exe) {
      // The meta region records where the executable's globals were, not
      // its load address; with the same file, one gives the other.
      if (!mod.elf->position_independent())
        mod.bias = 0;
      else if (m.globals_size != 0)
        mod.bias = m.globals_base - mod.elf->globals_vaddr();
      else
        mod.bias = kNoAslrPieBase;
      const auto& id = mod.elf->build_id();
      if (id.size() != m.build_id_len || std::memcmp(id.data(), m.build_id, id.size()) != 0)
        warnings_.push_back(path + " is not the binary that wrote the image (build-id differs): names may be wrong");
    } else {
      mod.bias = load_addr;
    }
    mod.lo = mod.bias + mod.elf->text_lo();
    mod.hi = mod.bias + mod.elf->text_hi();
    modules_.push_back(std::move(mod));
  };
  add(std::string(m.exe_path, strnlen(m.exe_path, sizeof m.exe_path)), true, 0);
  const uint32_t n = std::min<uint32_t>(m.library_count, core::kMaxLibraries);
  for (uint32_t i = 0; i < n; ++i) {
    const core::LibraryEntry& lib = m.libraries[i];
    const std::string name(lib.name, strnlen(lib.name, sizeof lib.name));
    // The vDSO is listed by name but is no file; threads never park in it.
    if (name.starts_with("linux-vdso.so")) continue;
    add(name, false, lib.load_addr);
  }
  return Status::OK();
}

bool ProcessImage::ReadRegion(uint64_t addr, void* dst, size_t len) {
  for (const RegionSpec& r : source_->regions()) {
    if (addr < r.base_addr || addr - r.base_addr > r.size || len > r.size - (addr - r.base_addr)) continue;
    auto* out = static_cast<uint8_t*>(dst);
    while (len > 0) {
      const uint64_t chunk = (addr - r.base_addr) / kChunk * kChunk;
      auto it = chunks_.find(r.base_addr + chunk);
      if (it == chunks_.end()) {
        std::vector<uint8_t> bytes(std::min<uint64_t>(kChunk, r.size - chunk));
        if (!source_->Read(r.id, chunk, bytes.data(), bytes.size()).ok()) return false;
        it = chunks_.emplace(r.base_addr + chunk, std::move(bytes)).first;
      }
      const uint64_t at = addr - r.base_addr - chunk;
      const size_t n = static_cast<size_t>(std::min<uint64_t>(len, it->second.size() - at));
      std::memcpy(out, it->second.data() + at, n);
      out += n;
      addr += n;
      len -= n;
    }
    return true;
  }
  return false;
}

bool ProcessImage::ReadMemory(uint64_t addr, void* dst, size_t len) {
  if (ReadRegion(addr, dst, len)) return true;
  for (const Module& mod : modules_)
    if (mod.elf != nullptr && addr >= mod.bias && mod.elf->Read(addr - mod.bias, dst, len)) return true;
  return false;
}

const ProcessImage::Module* ProcessImage::ModuleAt(uint64_t addr) const {
  for (const Module& mod : modules_)
    if (mod.elf != nullptr && addr >= mod.lo && addr < mod.hi) return &mod;
  return nullptr;
}

std::string ProcessImage::ModuleName(uint64_t addr) const {
  const Module* mod = ModuleAt(addr);
  return mod == nullptr ? "?" : BaseName(mod->path);
}

std::string ProcessImage::Symbolize(uint64_t pc, bool return_address) const {
  const uint64_t lookup = return_address && pc != 0 ? pc - 1 : pc;
  const Module* mod = ModuleAt(lookup);
  if (mod == nullptr) return HexAddress(pc);
  const ElfFile::Symbol* s = mod->elf->SymbolAt(lookup - mod->bias);
  if (s == nullptr) return BaseName(mod->path) + "+" + HexAddress(pc - mod->bias);
  return Demangle(s->name) + "+" + HexAddress(pc - mod->bias - s->vaddr);
}

}  // namespace respct::inspect
