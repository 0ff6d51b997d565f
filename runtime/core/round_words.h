// The words an epoch coordinator round and the application threads share
// (the protocol is in epoch_coordinator.h; the thread side in
// restart_point.h). Process-wide: one coordinator per process.
//
//   request      sync::detail::g_checkpoint_request — the epoch being
//                captured, 0 when none; read inline at every restart point
//   generation   round counter; changes only when a round ends (futex word
//                parked threads sleep on)
//   park_events  bumped by every park, so the coordinator can sleep until the
//                next one (futex word)
//
// All are lock-free atomics: read and written from signal handlers too.
#pragma once

#include <atomic>
#include <cstdint>

#include "runtime/sync/safepoint_hooks.h"

namespace respct::core {

class ThreadRegistry;

namespace round {

inline std::atomic<uint64_t>& Request() { return sync::detail::g_checkpoint_request; }
inline constinit std::atomic<uint32_t> g_generation{0};
inline constinit std::atomic<uint32_t> g_park_events{0};

inline uint32_t* FutexWord(std::atomic<uint32_t>& a) { return reinterpret_cast<uint32_t*>(&a); }

}  // namespace round
}  // namespace respct::core
