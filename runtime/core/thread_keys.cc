#include "runtime/core/thread_keys.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstring>

namespace respct::core {
namespace {

// Before Attach, and for threads without a slot.
KeyEntry g_early_keys[kMaxKeys];
std::atomic<KeyEntry*> g_keys{g_early_keys};
KeyValue* g_rows = nullptr;  // [max_threads][kMaxKeys]

// The calling thread's values (initial-exec: one %fs-relative load).
constinit thread_local KeyValue* t_values __attribute__((tls_model("initial-exec"))) = nullptr;
constinit thread_local bool t_own_block __attribute__((tls_model("initial-exec"))) = false;

KeyValue* Values() {
  if (t_values == nullptr) {
    void* p = mmap(nullptr, sizeof(KeyValue) * kMaxKeys, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return nullptr;
    t_values = static_cast<KeyValue*>(p);
    t_own_block = true;
  }
  return t_values;
}

constexpr int kDestructorIterations = PTHREAD_DESTRUCTOR_ITERATIONS;

}  // namespace

void ThreadKeys::Attach(void* table, uint32_t max_threads, bool keep_image) {
  auto* keys = static_cast<KeyEntry*>(table);
  if (!keep_image) std::memcpy(keys, g_early_keys, sizeof g_early_keys);
  g_rows = reinterpret_cast<KeyValue*>(keys + kMaxKeys);
  (void)max_threads;
  g_keys.store(keys, std::memory_order_release);
}

void ThreadKeys::BindSlot(uint32_t slot) {
  if (g_rows == nullptr) return;
  if (t_own_block) {
    // Values set before the thread had a slot move with it.
    KeyValue* row = g_rows + size_t{slot} * kMaxKeys;
    std::memcpy(row, t_values, sizeof(KeyValue) * kMaxKeys);
    munmap(t_values, sizeof(KeyValue) * kMaxKeys);
    t_own_block = false;
  }
  t_values = g_rows + size_t{slot} * kMaxKeys;
}

void ThreadKeys::UnbindThread() {
  if (!t_own_block) t_values = nullptr;
}

int ThreadKeys::Create(pthread_key_t* key, void (*destructor)(void*)) {
  KeyEntry* keys = g_keys.load(std::memory_order_acquire);
  for (uint32_t k = 0; k < kMaxKeys; ++k) {
    uint64_t seq = __atomic_load_n(&keys[k].seq, __ATOMIC_ACQUIRE);
    if ((seq & 1) != 0) continue;
    if (!__atomic_compare_exchange_n(&keys[k].seq, &seq, seq + 1, false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) continue;
    __atomic_store_n(&keys[k].destructor, reinterpret_cast<uint64_t>(destructor), __ATOMIC_RELEASE);
    *key = k;
    return 0;
  }
  return EAGAIN;
}

int ThreadKeys::Delete(pthread_key_t key) {
  if (key >= kMaxKeys) return EINVAL;
  KeyEntry* keys = g_keys.load(std::memory_order_acquire);
  uint64_t seq = __atomic_load_n(&keys[key].seq, __ATOMIC_ACQUIRE);
  if ((seq & 1) == 0) return EINVAL;
  return __atomic_compare_exchange_n(&keys[key].seq, &seq, seq + 1, false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)
             ? 0
             : EINVAL;
}

void* ThreadKeys::Get(pthread_key_t key) {
  if (key >= kMaxKeys || t_values == nullptr) return nullptr;
  const KeyEntry* keys = g_keys.load(std::memory_order_acquire);
  const KeyValue& v = t_values[key];
  return v.seq == keys[key].seq ? reinterpret_cast<void*>(v.value) : nullptr;
}

int ThreadKeys::Set(pthread_key_t key, uintptr_t value) {
  if (key >= kMaxKeys) return EINVAL;
  const KeyEntry* keys = g_keys.load(std::memory_order_acquire);
  const uint64_t seq = __atomic_load_n(&keys[key].seq, __ATOMIC_ACQUIRE);
  if ((seq & 1) == 0) return EINVAL;
  KeyValue* values = Values();
  if (values == nullptr) return ENOMEM;
  values[key].value = value;
  values[key].seq = seq;
  return 0;
}

void ThreadKeys::RunDestructors() {
  if (t_values == nullptr) return;
  const KeyEntry* keys = g_keys.load(std::memory_order_acquire);
  for (int round = 0; round < kDestructorIterations; ++round) {
    bool called = false;
    for (uint32_t k = 0; k < kMaxKeys; ++k) {
      KeyValue& v = t_values[k];
      const uint64_t seq = __atomic_load_n(&keys[k].seq, __ATOMIC_ACQUIRE);
      if (v.value == 0 || v.seq != seq || (seq & 1) == 0) continue;
      auto* dtor = reinterpret_cast<void (*)(void*)>(__atomic_load_n(&keys[k].destructor, __ATOMIC_ACQUIRE));
      void* value = reinterpret_cast<void*>(v.value);
      v.value = 0;
      if (dtor != nullptr) {
        dtor(value);
        called = true;
      }
    }
    if (!called) break;
  }
  // The slot's row is clean for the next thread that takes the slot.
  for (uint32_t k = 0; k < kMaxKeys; ++k) t_values[k] = KeyValue{0, 0};
}

}  // namespace respct::core
