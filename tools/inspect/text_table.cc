#include "tools/inspect/text_table.h"

#include <algorithm>

namespace respct::inspect {

std::string FormatTextTable(const std::vector<TableRow>& rows, const std::vector<bool>& left) {
  std::vector<size_t> width;
  for (const TableRow& r : rows) {
    if (width.size() < r.size()) width.resize(r.size(), 0);
    for (size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
  }
  std::string out;
  for (const TableRow& r : rows) {
    std::string line;
    for (size_t i = 0; i < r.size(); ++i) {
      const std::string pad(width[i] - r[i].size(), ' ');
      line += i < left.size() && left[i] ? r[i] + pad : pad + r[i];
      if (i + 1 < r.size()) line += "  ";
    }
    line.erase(line.find_last_not_of(' ') + 1);
    out += line + "\n";
  }
  return out;
}

}  // namespace respct::inspect
