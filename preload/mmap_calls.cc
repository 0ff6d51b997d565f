// The memory-mapping calls: mmap, munmap, mremap, madvise, mprotect, brk,
// sbrk. A call of the program (or of one of its libraries) goes to
// runtime/core/anonymous_maps.h, which serves anonymous private mappings from
// the persisted heap and hands the rest to the kernel; a call made before the
// runtime is up, from librespct's own code (the runtime's shadow, staging and
// tracker mappings: its references to these names bind here too) or on a
// runtime thread goes straight to the kernel.
//
// May run before init: yes (the kernel path). In a signal handler: the kernel
// path only (librespct's own calls, such as the mprotect tracker's).
#include <errno.h>
#include <stdarg.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "preload/export.h"
#include "preload/libc_next.h"
#include "runtime/core/anonymous_maps.h"
#include "runtime/core/app_heap.h"
#include "runtime/core/current_thread.h"
#include "runtime/core/loaded_program.h"

namespace {

using respct::core::AnonymousMaps;

// Whether the call at return address `ra` is the program's to persist.
inline bool ForProgram(void* ra) {
  return AnonymousMaps::Installed() && respct::core::t_current.in_runtime == 0 &&
         respct::core::CodeOwnerAt(reinterpret_cast<uintptr_t>(ra)) != respct::core::CodeOwner::kShim;
}

void* KernelMmap(void* addr, size_t len, int prot, int flags, int fd, off_t off) {
  return reinterpret_cast<void*>(syscall(SYS_mmap, addr, len, prot, flags, fd, off));
}

}  // namespace

RESPCT_EXPORT void* mmap(void* addr, size_t len, int prot, int flags, int fd, off_t off) {
  if (ForProgram(__builtin_return_address(0))) return AnonymousMaps::Map(addr, len, prot, flags, fd, off);
  return KernelMmap(addr, len, prot, flags, fd, off);
}

RESPCT_EXPORT void* mmap64(void* addr, size_t len, int prot, int flags, int fd, off_t off) {
  if (ForProgram(__builtin_return_address(0))) return AnonymousMaps::Map(addr, len, prot, flags, fd, off);
  return KernelMmap(addr, len, prot, flags, fd, off);
}

RESPCT_EXPORT int munmap(void* addr, size_t len) {
  if (ForProgram(__builtin_return_address(0))) return AnonymousMaps::Unmap(addr, len);
  return static_cast<int>(syscall(SYS_munmap, addr, len));
}

RESPCT_EXPORT void* mremap(void* old_addr, size_t old_len, size_t new_len, int flags, ...) {
  void* new_addr = nullptr;
  if ((flags & MREMAP_FIXED) != 0) {
    va_list ap;
    va_start(ap, flags);
    new_addr = va_arg(ap, void*);
    va_end(ap);
  }
  if (ForProgram(__builtin_return_address(0))) {
    const auto a = reinterpret_cast<uintptr_t>(old_addr);
    // Only a mapping inside the heap is the runtime's to move.
    if (respct::core::AppHeap()->Owns(reinterpret_cast<void*>(a)))
      return AnonymousMaps::Remap(old_addr, old_len, new_len, flags, new_addr);
  }
  return reinterpret_cast<void*>(syscall(SYS_mremap, old_addr, old_len, new_len, flags, new_addr));
}

RESPCT_EXPORT int madvise(void* addr, size_t len, int advice) {
  if (ForProgram(__builtin_return_address(0))) return AnonymousMaps::Advise(addr, len, advice);
  return static_cast<int>(syscall(SYS_madvise, addr, len, advice));
}

RESPCT_EXPORT int mprotect(void* addr, size_t len, int prot) {
  if (ForProgram(__builtin_return_address(0))) return AnonymousMaps::Protect(addr, len, prot);
  return static_cast<int>(syscall(SYS_mprotect, addr, len, prot));
}

// The kernel's break stays glibc's before init; once the runtime is up the
// program's break is the persisted one.
respct::preload::Next<int (*)(void*)> next_brk("brk");
respct::preload::Next<void* (*)(intptr_t)> next_sbrk("sbrk");

RESPCT_EXPORT int brk(void* addr) {
  if (ForProgram(__builtin_return_address(0))) return AnonymousMaps::Brk(addr);
  return next_brk.get()(addr);
}

RESPCT_EXPORT void* sbrk(intptr_t increment) {
  if (ForProgram(__builtin_return_address(0))) return AnonymousMaps::Sbrk(increment);
  return next_sbrk.get()(increment);
}
