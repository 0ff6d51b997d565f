#include "tools/inspect/app_listing.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <ctime>
#include <string_view>

#include "runtime/base/json_string.h"
#include "tools/inspect/text_table.h"

namespace respct::inspect {
namespace {

std::string NameOf(const wire::AppSummary& a) { return std::string(a.name, strnlen(a.name, sizeof a.name)); }

std::string Writer(const Listing& l, const wire::AppSummary& a) {
  if (!l.live) return "-";
  return a.writer_attached != 0 ? "yes" : "no";
}

}  // namespace

std::string HumanBytes(uint64_t bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  if (bytes < 1024) return std::to_string(bytes) + " B";
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, v < 10 ? "%.1f %s" : "%.0f %s", v, kUnits[u]);
  return buf;
}

std::string IsoTime(uint64_t unix_ns) {
  if (unix_ns == 0) return "never";
  const time_t secs = static_cast<time_t>(unix_ns / 1000000000);
  tm t;
  gmtime_r(&secs, &t);
  char buf[40];
  const size_t n = strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &t);
  std::snprintf(buf + n, sizeof buf - n, ".%03uZ", static_cast<unsigned>(unix_ns / 1000000 % 1000));
  return buf;
}

std::string HexAddress(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%" PRIx64, v);
  return buf;
}

std::string FormatTable(const Listing& l) {
  const std::vector<std::string> head = {"APP",     "COMMITTED", "APPLIED",     "IMAGE",
                                         "REGIONS", "RING USED", "LAST COMMIT", "WRITER"};
  std::vector<std::vector<std::string>> rows = {head};
  for (const wire::AppSummary& a : l.apps) {
    rows.push_back({NameOf(a), std::to_string(a.committed_epoch), std::to_string(a.applied_epoch),
                    HumanBytes(a.image_size), std::to_string(a.region_count),
                    HumanBytes(a.ring_used) + " / " + HumanBytes(a.ring_capacity), IsoTime(a.last_commit_unix_ns),
                    Writer(l, a)});
  }
  // Names and times left-aligned, numbers right-aligned.
  std::string out = FormatTextTable(rows, {true, false, false, false, false, false, true, true});
  if (l.apps.empty()) out += "(no apps in " + l.source + ")\n";
  return out;
}

std::string FormatJson(const Listing& l) {
  std::string out = "{\n  \"source\": " + JsonString(l.source) + ",\n  \"apps\": [";
  for (size_t i = 0; i < l.apps.size(); ++i) {
    const wire::AppSummary& a = l.apps[i];
    char id[24];
    std::snprintf(id, sizeof id, "%016" PRIx64, a.app_id);
    out += i == 0 ? "\n" : ",\n";
    out += "    {\"name\": " + JsonString(NameOf(a)) + ", \"app_id\": \"" + id + "\"" +
           ", \"committed_epoch\": " + std::to_string(a.committed_epoch) +
           ", \"applied_epoch\": " + std::to_string(a.applied_epoch) +
           ", \"image_bytes\": " + std::to_string(a.image_size) +
           ", \"regions\": " + std::to_string(a.region_count) +
           ", \"ring_used_bytes\": " + std::to_string(a.ring_used) +
           ", \"ring_capacity_bytes\": " + std::to_string(a.ring_capacity) + ", \"last_commit\": " +
           (a.last_commit_unix_ns == 0 ? std::string("null") : JsonString(IsoTime(a.last_commit_unix_ns))) +
           ", \"last_commit_unix_ns\": " + std::to_string(a.last_commit_unix_ns) + ", \"writer_attached\": " +
           (l.live ? (a.writer_attached != 0 ? "true" : "false") : "null") + "}";
  }
  out += l.apps.empty() ? "]\n}\n" : "\n  ]\n}\n";
  return out;
}

}  // namespace respct::inspect
