// Owner identity for recursive and errorcheck mutexes and for rwlock writers.
//
// Locks store a small per-thread id instead of a kernel tid: a tid is
// meaningless in the process that resumes from a checkpoint. The id is only
// ever non-zero in a lock while the lock is held, so a snapshot taken at depth
// 0 never contains one; ids still need to be unique among live threads.
//
// Two ranges keep runtime-chosen and default ids from colliding:
//   [1, kFirstDefaultOwnerId)           set by the runtime with SetCurrentOwnerId
//                                       (its persisted thread-slot numbers);
//   [kFirstDefaultOwnerId, UINT32_MAX]  handed out from a counter on first use
//                                       by threads the runtime did not number.
#pragma once

#include <cstdint>

namespace respct::sync {

inline constexpr uint32_t kFirstDefaultOwnerId = 0x8000'0000u;

namespace detail {
inline constinit thread_local uint32_t t_owner_id __attribute__((tls_model("initial-exec"))) = 0;
uint32_t AssignDefaultOwnerId() noexcept;
}  // namespace detail

inline uint32_t CurrentOwnerId() noexcept {
  uint32_t id = detail::t_owner_id;
  if (id == 0) [[unlikely]] id = detail::AssignDefaultOwnerId();
  return id;
}

// Precondition: 0 < id < kFirstDefaultOwnerId, unique among live threads, and
// the calling thread holds no recursive/errorcheck mutex or rwlock write lock
// (they record the old id). Passing 0 returns the thread to a default id.
inline void SetCurrentOwnerId(uint32_t id) noexcept { detail::t_owner_id = id; }

}  // namespace respct::sync
