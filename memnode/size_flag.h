// Byte sizes on the command line: "4G", "512M", "64MiB", "1048576".
#pragma once

#include <cstdint>
#include <string_view>

#include "runtime/base/status.h"

namespace respct::memnode {

// A decimal count with an optional binary suffix K, M, G or T (optionally
// followed by "iB" or "B", any case). Rejects empty, negative, fractional and
// overflowing values with InvalidArgument.
Result<uint64_t> ParseSize(std::string_view text);

}  // namespace respct::memnode
