// dlsym and dlvsym. A library that looks up a function librespct.so defines
// with dlsym(RTLD_NEXT, ...) — jemalloc finds pthread_create that way for its
// background threads — would get libc's and escape the runtime: its threads
// would have no slot (unstoppable, not in the image) and its allocations no
// persisted home. Those lookups are answered with librespct's own function.
// Every other lookup is forwarded to libc's function by a tail jump, so libc
// sees the caller's return address, which is what RTLD_NEXT is relative to;
// librespct's own lookups (preload/libc_next.cc) are forwarded too.
//
// libc's dlsym is found once, by symbol-table lookup (runtime/core/
// elf_symbols.h): dlsym cannot be used to find itself once interposed.
//
// May run before init (the runtime is not needed); in a signal handler: no,
// as dlsym itself.
#include <dlfcn.h>

#include <cstdint>
#include <cstring>
#include <string_view>

#include "runtime/core/elf_symbols.h"

namespace {

// Names whose RTLD_NEXT lookup must find librespct's definition: the thread
// and allocation entry points through which a library's threads and memory
// become the program's (DESIGN §2, §3).
constexpr std::string_view kCapturedNames[] = {
    "pthread_create", "pthread_exit",   "pthread_join",  "pthread_detach", "malloc",
    "free",           "calloc",         "realloc",       "reallocarray",   "posix_memalign",
    "aligned_alloc",  "memalign",       "valloc",        "pvalloc",        "malloc_usable_size",
    "mmap",           "mmap64",         "munmap",        "mremap",         "madvise",
    "sigaction",      "signal",         "pthread_sigmask", "sigprocmask",  "pthread_key_create",
    "pthread_key_delete", "pthread_getspecific", "pthread_setspecific",
};

bool Captured(const char* name) {
  for (std::string_view n : kCapturedNames)
    if (n == name) return true;
  return false;
}

// Whether `addr` lies in librespct.so itself.
bool InShim(const void* addr) {
  Dl_info self{}, caller{};
  static int anchor;
  if (dladdr(&anchor, &self) == 0 || dladdr(addr, &caller) == 0) return false;
  return self.dli_fbase == caller.dli_fbase;
}

void* SelfHandle() {
  static void* self = [] {
    Dl_info info{};
    static int anchor;
    if (dladdr(&anchor, &info) == 0) return static_cast<void*>(nullptr);
    return dlopen(info.dli_fname, RTLD_LAZY | RTLD_NOLOAD);
  }();
  return self;
}

}  // namespace

extern "C" {

// Read by the assembly below; hidden, so reached without the GOT.
__attribute__((visibility("hidden"))) void* respct_real_dlsym = nullptr;
__attribute__((visibility("hidden"))) void* respct_real_dlvsym = nullptr;

// Returns librespct's function for a captured RTLD_NEXT lookup, null to
// forward. `caller` is the return address of the dlsym call.
__attribute__((visibility("hidden"))) void* respct_dlsym_redirect(void* handle, const char* name, void* caller) {
  if (respct_real_dlsym == nullptr) {
    respct_real_dlvsym = respct::core::FindLoadedSymbol("libc.so", "dlvsym");
    respct_real_dlsym = respct::core::FindLoadedSymbol("libc.so", "dlsym");
  }
  if (handle != RTLD_NEXT || name == nullptr || !Captured(name) || InShim(caller)) return nullptr;
  void* self = SelfHandle();
  if (self == nullptr) return nullptr;
  using DlsymFn = void* (*)(void*, const char*);
  return reinterpret_cast<DlsymFn>(respct_real_dlsym)(self, name);
}

}  // extern "C"

// dlsym(handle, name) and dlvsym(handle, name, version): ask the redirect,
// return its answer if any, else jump to libc's function with the caller's
// registers and return address untouched. Stack: on entry rsp+0 holds the
// return address; two pushes and 8 bytes of padding keep the call aligned.
asm(R"(
    .text
    .globl dlsym
    .type dlsym, @function
dlsym:
    .cfi_startproc
    push %rdi
    .cfi_adjust_cfa_offset 8
    push %rsi
    .cfi_adjust_cfa_offset 8
    sub $8, %rsp
    .cfi_adjust_cfa_offset 8
    mov 24(%rsp), %rdx
    call respct_dlsym_redirect
    add $8, %rsp
    .cfi_adjust_cfa_offset -8
    pop %rsi
    .cfi_adjust_cfa_offset -8
    pop %rdi
    .cfi_adjust_cfa_offset -8
    test %rax, %rax
    jnz 1f
    jmp *respct_real_dlsym(%rip)
1:  ret
    .cfi_endproc
    .size dlsym, .-dlsym

    .globl dlvsym
    .type dlvsym, @function
dlvsym:
    .cfi_startproc
    push %rdi
    .cfi_adjust_cfa_offset 8
    push %rsi
    .cfi_adjust_cfa_offset 8
    push %rdx
    .cfi_adjust_cfa_offset 8
    mov 24(%rsp), %rdx
    call respct_dlsym_redirect
    pop %rdx
    .cfi_adjust_cfa_offset -8
    pop %rsi
    .cfi_adjust_cfa_offset -8
    pop %rdi
    .cfi_adjust_cfa_offset -8
    test %rax, %rax
    jnz 1f
    jmp *respct_real_dlvsym(%rip)
1:  ret
    .cfi_endproc
    .size dlvsym, .-dlvsym
)");
