#include "runtime/dirty/shadow_refs.h"

#include <sys/mman.h>

namespace respct::dirty {

Result<std::unique_ptr<ShadowRefs>> ShadowRefs::Create(size_t max_refs) {
  if (max_refs == 0) return Status::InvalidArgument("shadow refs: zero capacity");
  const size_t bytes = (max_refs * sizeof(Ref) + 4095) & ~size_t{4095};
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return Status::FromErrno("shadow refs: mmap", errno);
  return std::unique_ptr<ShadowRefs>(new ShadowRefs(static_cast<Ref*>(p), bytes / sizeof(Ref)));
}

ShadowRefs::~ShadowRefs() {
  munmap(refs_, (capacity_ * sizeof(Ref) + 4095) & ~size_t{4095});
}

}  // namespace respct::dirty
