// The real libc functions behind the ones librespct.so defines, found with
// dlsym(RTLD_NEXT) once, at the first call that needs them.
//
// Before init: dlsym may allocate (calloc for its error state); the malloc
// family routes that to glibc while the persisted heap is not up, so this
// lookup is safe at any time. Not async-signal-safe on first use.
#pragma once

#include <dlfcn.h>

#include <atomic>

namespace respct::preload {

// Resolves `name` in the objects after librespct.so; aborts with one clear
// line if libc lacks it (the shim cannot forward the call anywhere).
void* NextSymbol(const char* name);

template <typename Fn>
class Next {
 public:
  explicit constexpr Next(const char* name) : name_(name) {}
  Fn get() {
    Fn f = fn_.load(std::memory_order_acquire);
    if (f == nullptr) [[unlikely]] {
      f = reinterpret_cast<Fn>(NextSymbol(name_));
      fn_.store(f, std::memory_order_release);
    }
    return f;
  }

 private:
  const char* name_;
  std::atomic<Fn> fn_{nullptr};
};

}  // namespace respct::preload
