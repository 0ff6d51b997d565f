// Thread-specific data (pthread_key_create, pthread_getspecific, ...) kept in
// persisted memory. glibc keeps it in each thread's struct pthread, which a
// recovery does not restore (the TCB belongs to the new process): memcached's
// workers find their state with pthread_getspecific and would get NULL after
// a recovery. Here keys and values live in the meta region, so a resumed
// thread finds its values where it left them, and a key created before the
// crash is still allocated.
//
// Layout (in the meta region, after the thread table; see meta_region.h):
//   KeyEntry   keys[kMaxKeys]          {seq, destructor}: seq odd = in use
//   KeyValue   values[max_threads][kMaxKeys]  {seq, value}: a value counts
//              only while its seq equals the key's (a deleted and re-created
//              key reads NULL in every thread, as in glibc)
// Threads without a slot (the process's first thread before main starts,
// the runtime's own) keep their values in a per-thread block of internal
// memory. Keys created before the runtime maps the meta region (library
// constructors run before __libc_start_main) live in a static table that
// Attach copies in.
//
// Get and Set are async-signal-safe; Create and Delete are too (atomics).
#pragma once

#include <pthread.h>

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace respct::core {

inline constexpr uint32_t kMaxKeys = PTHREAD_KEYS_MAX;  // 1024

struct KeyEntry {
  uint64_t seq;         // odd: allocated
  uint64_t destructor;  // void (*)(void*)
};
struct KeyValue {
  uint64_t seq;
  uint64_t value;
};

// The table's size for `max_threads` slots (the meta region's layout needs it:
// Layout::meta_size).
inline size_t ThreadKeysBytes(uint32_t max_threads) {
  return sizeof(KeyEntry) * kMaxKeys + sizeof(KeyValue) * kMaxKeys * max_threads;
}

class ThreadKeys {
 public:
  // Moves the key table into persisted memory at `table` (meta region) for
  // `max_threads` slots. A fresh run copies the keys made so far; a recovery
  // keeps the image's (`keep_image`).
  static void Attach(void* table, uint32_t max_threads, bool keep_image);
  // Points the calling thread's values at slot `slot`'s row.
  static void BindSlot(uint32_t slot);
  static void UnbindThread();

  static int Create(pthread_key_t* key, void (*destructor)(void*));
  static int Delete(pthread_key_t key);
  static void* Get(pthread_key_t key);
  static int Set(pthread_key_t key, uintptr_t value);
  // At thread exit: destructors of its non-NULL values, as POSIX says.
  static void RunDestructors();
};

}  // namespace respct::core
