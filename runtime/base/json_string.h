// String quoting for the JSON that respct writes (respct-inspect's --json
// reports, the shim's --stats json): the one place that escapes. Numbers and
// structure are written by each report directly. Not async-signal-safe (it
// allocates): the shim uses it only in its exit report.
#pragma once

#include <string>
#include <string_view>

namespace respct {

// `s` as a JSON string literal, quotes included; control characters escaped.
std::string JsonString(std::string_view s);

}  // namespace respct
