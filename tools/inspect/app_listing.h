// AppListing: how respct-inspect shows a pool's apps (wire::AppSummary), as
// an aligned table for people or JSON for scripts. Pure formatting, so the
// same code serves a live memnode and an offline pool file.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/wire/message.h"

namespace respct::inspect {

struct Listing {
  std::string source;  // "memnode shm:///..." or "pool /path"
  bool live = true;    // false offline: whether a writer is attached is unknown
  std::vector<wire::AppSummary> apps;
};

std::string FormatTable(const Listing& l);
std::string FormatJson(const Listing& l);

// 1536 → "1.5 KiB"; exact bytes below 1 KiB.
std::string HumanBytes(uint64_t bytes);
// Unix nanoseconds → "2026-11-28T05:37:21.123Z"; 0 → "never".
std::string IsoTime(uint64_t unix_ns);
// 4096 → "0x1000".
std::string HexAddress(uint64_t v);

}  // namespace respct::inspect
