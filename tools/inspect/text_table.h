// Aligned text tables for respct-inspect's human output: the first row is
// the header, columns are separated by two spaces, and each column is either
// left-aligned (names, times) or right-aligned (numbers).
#pragma once

#include <string>
#include <vector>

namespace respct::inspect {

using TableRow = std::vector<std::string>;

// `left[i]` says whether column i is left-aligned; missing entries are right.
std::string FormatTextTable(const std::vector<TableRow>& rows, const std::vector<bool>& left);

}  // namespace respct::inspect
