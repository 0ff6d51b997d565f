// ResourceCensus: counts what a recovery cannot bring back — file
// descriptors the program opened (files, sockets, pipes; not stdin/stdout/
// stderr, not those open when respct started, which are the runtime's own or
// inherited) and signal handlers it installed — and records the counts in the
// meta header, so respct-recover can warn that the resumed program will find
// them gone. Advisory: sampled by the coordinator thread between epochs (at
// most every kIntervalNs), not under the pause.
#pragma once

#include <cstdint>
#include <vector>

#include "runtime/core/meta_region.h"

namespace respct::core {

class ResourceCensus {
 public:
  // Remembers the descriptors open now as not the program's. `own_signals`:
  // signals whose handlers are the runtime's.
  ResourceCensus(MetaHeader* meta, std::vector<int> own_signals);
  // Recounts if the last count is older than the interval. Coordinator thread only.
  void MaybeCount(uint64_t now_ns);

  static constexpr uint64_t kIntervalNs = 500'000'000;

 private:
  MetaHeader* meta_;
  std::vector<int> own_signals_;
  std::vector<int> baseline_fds_;
  uint64_t last_ns_ = 0;
};

}  // namespace respct::core
