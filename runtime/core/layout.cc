#include "runtime/core/layout.h"

#include "runtime/base/page.h"
#include "runtime/core/meta_region.h"
#include "runtime/core/thread_keys.h"

namespace respct::core {

size_t Layout::meta_size() const {
  const size_t bytes = MetaKeysOffset(max_threads) + ThreadKeysBytes(max_threads);
  return PageUp(bytes);
}

const char* RegionName(uint32_t id) {
  switch (id) {
    case kMetaRegion: return "meta";
    case kHeapRegion: return "heap";
    case kStackRegion: return "stacks";
    case kGlobalsRegion: return "globals";
    case kKernelRegion: return "kernel";
  }
  return id >= kLibraryGlobalsFirstRegion ? "library globals" : "unknown";
}

}  // namespace respct::core
