#include "runtime/dirty/shadow_refs.h"

#include <sys/mman.h>

#include "runtime/base/page.h"

namespace respct::dirty {

Result<std::unique_ptr<ShadowRefs>> ShadowRefs::Create(size_t max_refs) {
  if (max_refs == 0) return Status::InvalidArgument("shadow refs: zero capacity");
  const size_t bytes = PageUp(max_refs * sizeof(Ref));
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return Status::FromErrno("shadow refs: mmap", errno);
  return std::unique_ptr<ShadowRefs>(new ShadowRefs(static_cast<Ref*>(p), bytes / sizeof(Ref)));
}

ShadowRefs::~ShadowRefs() {
  munmap(refs_, PageUp(capacity_ * sizeof(Ref)));
}

}  // namespace respct::dirty
