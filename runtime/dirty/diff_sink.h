// DiffSink: where a LineDiffer puts the changed bytes it finds under the pause.
// The runtime's staging area implements it (so shipping reads a stable copy,
// never live pages: DESIGN §8). Two kinds:
// - copy staging (Reserve): the sink owns a copy of the bytes, valid until it
//   is cleared; StagingBuffer (staging_buffer.h) is one.
// - zero-copy staging (Reference): the sink keeps pointers into the differ's
//   shadow, which after Diff holds exactly the staged bytes; ShadowRefs
//   (shadow_refs.h) is one. Saves one copy of every changed byte under the
//   pause, at the price of shipping before the next epoch's Diff (DESIGN §3
//   allows at most one epoch in flight).
//
// Signal safety: the differ calls sinks from the coordinator thread, never
// from a signal handler; the two sinks here would be safe there anyway.
#pragma once

#include <cstddef>
#include <cstdint>

namespace respct::dirty {

class DiffSink {
 public:
  virtual ~DiffSink() = default;
  // Returns room for `len` bytes that belong at app address `addr`; the differ
  // fills it right away. nullptr means full: the differ stops and returns
  // ResourceExhausted (see LineDiffer::Diff for how to continue).
  // Called under the pause, by the coordinator thread: must not block, and must
  // not allocate from the app's (persisted) heap.
  virtual std::byte* Reserve(uintptr_t addr, size_t len) = 0;

  // Zero-copy sinks return true here; the differ then calls Reference instead
  // of Reserve. `stable` points into the shadow: it holds the changed bytes
  // once Diff returns and keeps them until the next Diff of the same range (or
  // its RemoveRange). false means full, as a nullptr from Reserve.
  virtual bool references_shadow() const { return false; }
  virtual bool Reference(uintptr_t addr, const std::byte* stable, size_t len) {
    (void)addr, (void)stable, (void)len;
    return false;
  }
};

}  // namespace respct::dirty
