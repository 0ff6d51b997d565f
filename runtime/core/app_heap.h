// The application heap the preload layer's malloc family uses, published once
// the runtime has mapped it. Null before start-up (allocations then go to
// glibc: ld.so and libc initialisation, dlsym) and when respct is disabled.
// Read on every malloc: one relaxed load.
#pragma once

#include <atomic>

#include "runtime/heap/heap.h"

namespace respct::core {

inline constinit std::atomic<heap::Heap*> g_app_heap{nullptr};

inline heap::Heap* AppHeap() { return g_app_heap.load(std::memory_order_relaxed); }

}  // namespace respct::core
