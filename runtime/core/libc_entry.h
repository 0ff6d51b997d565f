// The real libc functions the runtime itself needs and that the preload layer
// also defines (pthread_create, ...). Inside librespct.so a plain call would
// bind to the shim's own definition and recurse, so the preload layer fills
// these with dlsym(RTLD_NEXT) before starting the runtime; tests that link
// the runtime without the shim get glibc's directly.
#pragma once

#include <pthread.h>

namespace respct::core {

struct LibcEntry {
  int (*pthread_create)(pthread_t*, const pthread_attr_t*, void* (*)(void*), void*) = ::pthread_create;
  int (*pthread_join)(pthread_t, void**) = ::pthread_join;
  int (*pthread_detach)(pthread_t) = ::pthread_detach;
};

inline LibcEntry g_libc;

}  // namespace respct::core
