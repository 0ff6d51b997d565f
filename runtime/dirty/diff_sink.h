// DiffSink: where a LineDiffer puts the changed bytes it finds under the pause.
// The runtime's staging area implements it (so shipping reads a stable copy,
// never live pages: DESIGN §8); StagingBuffer (staging_buffer.h) is a simple
// self-contained one.
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
};

}  // namespace respct::dirty
