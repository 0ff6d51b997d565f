#include "runtime/sync/owner_id.h"

#include <atomic>

namespace respct::sync::detail {

namespace {
// Relaxed: only uniqueness matters. Wraps after 2^31 thread creations, by
// which time the early holders of those ids have long exited.
constinit std::atomic<uint32_t> g_next_default_owner_id{kFirstDefaultOwnerId};
}  // namespace

uint32_t AssignDefaultOwnerId() noexcept {
  uint32_t id = g_next_default_owner_id.fetch_add(1, std::memory_order_relaxed);
  if (id < kFirstDefaultOwnerId) id += kFirstDefaultOwnerId;
  t_owner_id = id;
  return id;
}

}  // namespace respct::sync::detail
