// The malloc family. Each function is a flag check and a call: the persisted
// heap once the runtime is up and the caller is application code, glibc's
// allocator before that (ld.so/libc start-up, dlsym) and for the runtime's own
// threads. free/realloc/malloc_usable_size route by address, so a block goes
// back to whichever allocator made it.
//
// May run before init: yes (that is the glibc path). In a signal handler: no,
// like malloc itself.
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "preload/export.h"
#include "preload/libc_next.h"
#include "runtime/base/page.h"
#include "runtime/core/app_heap.h"
#include "runtime/core/current_thread.h"

extern "C" {
void* __libc_malloc(size_t);
void __libc_free(void*);
void* __libc_calloc(size_t, size_t);
void* __libc_realloc(void*, size_t);
void* __libc_memalign(size_t, size_t);
}

namespace {

using respct::core::AppHeap;
using respct::core::t_current;
using respct::heap::Heap;

// The heap application code allocates from, or null: use glibc.
inline Heap* HeapForCaller() {
  Heap* h = AppHeap();
  return (h != nullptr && t_current.in_runtime == 0) ? h : nullptr;
}

inline Heap* OwnerOf(const void* p) {
  Heap* h = AppHeap();
  return (h != nullptr && h->Owns(p)) ? h : nullptr;
}

void* AlignedAlloc(size_t align, size_t n) {
  if (Heap* h = HeapForCaller()) return h->Memalign(align, n);
  return __libc_memalign(align, n);
}

respct::preload::Next<size_t (*)(void*)> next_usable_size("malloc_usable_size");

}  // namespace

extern "C" {

RESPCT_EXPORT void* malloc(size_t n) {
  if (Heap* h = HeapForCaller()) [[likely]] {
    void* p = h->Malloc(n);
    if (p == nullptr) errno = ENOMEM;
    return p;
  }
  return __libc_malloc(n);
}

RESPCT_EXPORT void free(void* p) {
  if (p == nullptr) return;
  if (Heap* h = OwnerOf(p)) [[likely]] {
    h->Free(p);
    return;
  }
  __libc_free(p);
}

RESPCT_EXPORT void* calloc(size_t count, size_t size) {
  if (Heap* h = HeapForCaller()) {
    void* p = h->Calloc(count, size);
    if (p == nullptr) errno = ENOMEM;
    return p;
  }
  return __libc_calloc(count, size);
}

RESPCT_EXPORT void* realloc(void* p, size_t n) {
  if (p == nullptr) return malloc(n);
  if (Heap* h = OwnerOf(p)) {
    void* q = h->Realloc(p, n);
    if (q == nullptr && n != 0) errno = ENOMEM;
    return q;
  }
  return __libc_realloc(p, n);
}

RESPCT_EXPORT void* reallocarray(void* p, size_t count, size_t size) {
  size_t n;
  if (__builtin_mul_overflow(count, size, &n)) {
    errno = ENOMEM;
    return nullptr;
  }
  return realloc(p, n);
}

RESPCT_EXPORT int posix_memalign(void** out, size_t align, size_t n) {
  if (align < sizeof(void*) || (align & (align - 1)) != 0) return EINVAL;
  void* p = AlignedAlloc(align, n);
  if (p == nullptr) return ENOMEM;
  *out = p;
  return 0;
}

RESPCT_EXPORT void* aligned_alloc(size_t align, size_t n) {
  if (align == 0 || (align & (align - 1)) != 0) {
    errno = EINVAL;
    return nullptr;
  }
  void* p = AlignedAlloc(align, n);
  if (p == nullptr) errno = ENOMEM;
  return p;
}

RESPCT_EXPORT void* memalign(size_t align, size_t n) { return aligned_alloc(align, n); }

RESPCT_EXPORT void* valloc(size_t n) { return aligned_alloc(respct::kPageSize, n); }

RESPCT_EXPORT void* pvalloc(size_t n) {
  size_t rounded;
  if (__builtin_add_overflow(n, respct::kPageSize - 1, &rounded)) {
    errno = ENOMEM;
    return nullptr;
  }
  return aligned_alloc(respct::kPageSize, respct::PageDown(rounded));
}

RESPCT_EXPORT size_t malloc_usable_size(void* p) {
  if (p == nullptr) return 0;
  if (Heap* h = OwnerOf(p)) return h->UsableSize(p);
  return next_usable_size.get()(p);
}

}  // extern "C"
