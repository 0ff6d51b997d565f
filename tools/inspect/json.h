// The one JSON helper respct-inspect's --json outputs share: string quoting.
// (Numbers and structure are written by each report directly.)
#pragma once

#include <string>
#include <string_view>

namespace respct::inspect {

// `s` as a JSON string literal, quotes included; control characters escaped.
std::string JsonString(std::string_view s);

}  // namespace respct::inspect
