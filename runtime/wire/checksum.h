// Checksums of the wire and the pool: XXH3 (xxHash), 64-bit.
//
// Every log record carries XXH3_64 of its header (checksum field zeroed) and
// payload; a commit record carries the epoch checksum, XXH3_64 over the
// sequence of its records' checksums (8 bytes each, little-endian, ring order).
// Chaining the per-record checksums keeps the epoch check O(records), not
// O(bytes), on both sides, while any changed byte still changes it.
#pragma once

// XXH3_state_t is only complete with static-linking definitions.
#define XXH_STATIC_LINKING_ONLY
#include <xxhash.h>

#include <cstddef>
#include <cstdint>

namespace respct::wire {

inline uint64_t Checksum64(const void* data, size_t len) { return XXH3_64bits(data, len); }

// Accumulates the checksum of an epoch from its records' checksums.
class EpochChecksum {
 public:
  EpochChecksum() { XXH3_64bits_reset(&state_); }
  void Add(uint64_t record_checksum) { XXH3_64bits_update(&state_, &record_checksum, sizeof record_checksum); }
  uint64_t Digest() const { return XXH3_64bits_digest(&state_); }

 private:
  XXH3_state_t state_;
};

// Stable 64-bit id of an application name (the `app id` of commit records).
inline uint64_t AppIdOf(const char* name, size_t len) { return XXH3_64bits_withSeed(name, len, 0x72657370637421ull); }

}  // namespace respct::wire
