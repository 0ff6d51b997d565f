#include "runtime/core/meta_region.h"

#include <cstring>
#include <string>

namespace respct::core {
namespace {

Status ShorterThanHeader(uint64_t region_size) {
  return Status::Corruption("the meta region (" + std::to_string(region_size) + " bytes) is shorter than its header");
}

}  // namespace

Status CheckMetaHeader(const MetaHeader& m, uint64_t region_size) {
  if (region_size < kMetaHeaderBytes) return ShorterThanHeader(region_size);
  if (m.magic == 0) return Status::FailedPrecondition("the meta region holds no header yet (no epoch was captured)");
  if (m.magic != kMetaMagic) return Status::Corruption("the meta header's magic is wrong");
  if (m.version != kMetaVersion)
    return Status::FailedPrecondition("image written by another respct version (meta version " +
                                      std::to_string(m.version) + ", this one reads " + std::to_string(kMetaVersion) +
                                      ")");
  if (m.slots_offset != MetaSlotsOffset())
    return Status::Corruption("the meta header puts its thread table at offset " + std::to_string(m.slots_offset) +
                              ", not " + std::to_string(MetaSlotsOffset()));
  if (m.max_threads == 0) return Status::Corruption("the meta header says 0 thread slots");
  if (uint64_t{m.max_threads} * sizeof(ThreadSlot) > region_size - MetaSlotsOffset())
    return Status::Corruption("the meta header says " + std::to_string(m.max_threads) +
                              " thread slots, more than its meta region (" + std::to_string(region_size) +
                              " bytes) holds");
  return Status::OK();
}

Result<uint32_t> LiveThreadsInMeta(const uint8_t* meta, size_t size) {
  if (size < kMetaHeaderBytes) return ShorterThanHeader(size);
  MetaHeader m;
  std::memcpy(&m, meta, sizeof m);
  RESPCT_RETURN_IF_ERROR(CheckMetaHeader(m, size));
  uint32_t threads = 0;
  for (uint32_t i = 0; i < m.max_threads; ++i) {
    ThreadSlot s;
    std::memcpy(&s, meta + MetaSlotsOffset() + uint64_t{i} * sizeof s, sizeof s);
    if (s.state != kSlotFree && s.state != kSlotExited) ++threads;
  }
  return threads;
}

}  // namespace respct::core
