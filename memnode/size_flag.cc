#include "memnode/size_flag.h"

#include <cctype>
#include <charconv>
#include <string>

namespace respct::memnode {

Result<uint64_t> ParseSize(std::string_view text) {
  const std::string t(text);
  auto bad = [&] {
    return Status::InvalidArgument("bad size '" + t + "' (expected a byte count with an optional K/M/G/T suffix, e.g. 512M)");
  };
  uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end == text.data()) return bad();
  std::string suffix(end, text.data() + text.size());
  for (char& c : suffix) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (suffix.size() == 3 && suffix.substr(1) == "IB") suffix.resize(1);
  if (suffix.size() == 2 && suffix[1] == 'B') suffix.resize(1);
  unsigned shift = 0;
  if (suffix == "K") shift = 10;
  else if (suffix == "M") shift = 20;
  else if (suffix == "G") shift = 30;
  else if (suffix == "T") shift = 40;
  else if (!suffix.empty() && suffix != "B") return bad();
  if (shift != 0 && value > (UINT64_MAX >> shift)) return bad();
  return value << shift;
}

}  // namespace respct::memnode
