#include "tools/inspect/epoch_report.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <map>

#include "runtime/core/layout.h"
#include "tools/inspect/app_listing.h"
#include "runtime/base/json_string.h"
#include "tools/inspect/process_image.h"
#include "tools/inspect/text_table.h"

namespace respct::inspect {
namespace {

constexpr uint64_t kLine = 64;

uint32_t CountLiveThreads(const ProcessImage& img) {
  uint32_t n = 0;
  for (const core::ThreadSlot& s : img.slots()) n += s.state != core::kSlotFree && s.state != core::kSlotExited;
  return n;
}

// Union of [begin, end) intervals.
std::vector<std::pair<uint64_t, uint64_t>> Merge(std::vector<std::pair<uint64_t, uint64_t>> v) {
  std::sort(v.begin(), v.end());
  std::vector<std::pair<uint64_t, uint64_t>> out;
  for (const auto& [b, e] : v) {
    if (!out.empty() && b <= out.back().second)
      out.back().second = std::max(out.back().second, e);
    else
      out.emplace_back(b, e);
  }
  return out;
}

}  // namespace

Result<EpochReport> BuildEpochReport(ImageSource* source, uint64_t last) {
  EpochReport r;
  r.app = source->app();
  r.source = source->source();
  auto head = source->Epochs(0, 0);  // committed and applied epochs
  if (!head.ok()) return head.status();
  const uint64_t to = head->committed_epoch;
  const uint64_t span = last == 0 || last > wire::kMaxEpochsPerQuery ? wire::kMaxEpochsPerQuery : last;
  const uint64_t from = to >= span ? to - span + 1 : 0;
  auto listing = source->Epochs(from, std::max(from, to));
  if (!listing.ok()) return listing.status();
  r.listing = std::move(*listing);
  auto img = ProcessImage::Load(source);
  if (img.ok()) {
    r.image_epoch = (*img)->meta().epoch;
    r.image_threads = CountLiveThreads(**img);
  } else {
    r.image_epoch = source->image_epoch();
    r.threads_note = img.status().message();
  }
  return r;
}

std::string FormatEpochsText(const EpochReport& r) {
  std::string out = "app " + r.app + " (" + r.source + "): committed epoch " +
                    std::to_string(r.listing.committed_epoch) + ", applied " +
                    std::to_string(r.listing.applied_epoch) + "; the image holds epoch " +
                    std::to_string(r.image_epoch) +
                    (r.image_threads ? " with " + std::to_string(*r.image_threads) + " thread(s)"
                                     : " (threads unknown: " + r.threads_note + ")") +
                    "\n";
  std::vector<TableRow> rows = {{"EPOCH", "COMMITTED (UTC)", "BYTES", "RECORDS", "THREADS"}};
  for (const wire::EpochInfo& e : r.listing.epochs) {
    const bool image = r.image_threads && e.epoch == r.image_epoch;
    rows.push_back({std::to_string(e.epoch), IsoTime(e.commit_unix_ns), HumanBytes(e.payload_bytes),
                    std::to_string(e.record_count), image ? std::to_string(*r.image_threads) : "-"});
  }
  out += FormatTextTable(rows, {false, true, false, false, false});
  if (r.listing.epochs.empty()) out += "(no epoch in the history)\n";
  return out;
}

std::string FormatEpochsJson(const EpochReport& r) {
  std::string out = "{\n  \"app\": " + JsonString(r.app) + ",\n  \"source\": " + JsonString(r.source) +
                    ",\n  \"committed_epoch\": " + std::to_string(r.listing.committed_epoch) +
                    ",\n  \"applied_epoch\": " + std::to_string(r.listing.applied_epoch) +
                    ",\n  \"image_epoch\": " + std::to_string(r.image_epoch) + ",\n  \"image_threads\": " +
                    (r.image_threads ? std::to_string(*r.image_threads) : std::string("null")) + ",\n  \"epochs\": [";
  for (size_t i = 0; i < r.listing.epochs.size(); ++i) {
    const wire::EpochInfo& e = r.listing.epochs[i];
    const bool image = r.image_threads && e.epoch == r.image_epoch;
    out += (i == 0 ? "\n" : ",\n");
    out += "    {\"epoch\": " + std::to_string(e.epoch) + ", \"committed\": " + JsonString(IsoTime(e.commit_unix_ns)) +
           ", \"commit_unix_ns\": " + std::to_string(e.commit_unix_ns) +
           ", \"payload_bytes\": " + std::to_string(e.payload_bytes) +
           ", \"records\": " + std::to_string(e.record_count) + ", \"ring_first_pos\": " + std::to_string(e.first_pos) +
           ", \"ring_end_pos\": " + std::to_string(e.end_pos) +
           ", \"threads\": " + (image ? std::to_string(*r.image_threads) : std::string("null")) + "}";
  }
  out += r.listing.epochs.empty() ? "]\n}\n" : "\n  ]\n}\n";
  return out;
}

Result<DiffReport> BuildDiffReport(ImageSource* source, uint64_t from, uint64_t to) {
  auto writes = source->Writes(from, to);
  if (!writes.ok()) return writes.status();
  // The oldest epoch from which every record up to `to` is still there.
  uint64_t first_missing = 0, last_missing = 0;
  for (const wire::EpochWrites& w : *writes) {
    if (w.status == wire::WritesStatus::kPresent) continue;
    if (first_missing == 0) first_missing = w.epoch;
    last_missing = w.epoch;
  }
  if (first_missing != 0) {
    const std::string which = first_missing == last_missing
                                  ? "epoch " + std::to_string(first_missing) + " is"
                                  : "epochs " + std::to_string(first_missing) + ".." + std::to_string(last_missing) +
                                        " are";
    std::string hint = last_missing < to ? "; the oldest diff possible up to " + std::to_string(to) + " is --diff " +
                                               std::to_string(last_missing) + " " + std::to_string(to)
                                         : "";
    return Status::NotFound(which + " of app '" + source->app() +
                            "' no longer in the log ring (overwritten by later epochs, or older than the epoch history)" +
                            hint);
  }
  DiffReport r;
  r.app = source->app();
  r.source = source->source();
  r.from = from;
  r.to = to;
  std::map<uint32_t, std::vector<std::pair<uint64_t, uint64_t>>> bytes;
  for (const wire::EpochWrites& w : *writes) {
    r.records += w.ranges.size();
    for (const wire::WrittenRange& x : w.ranges) bytes[x.region_id].emplace_back(x.offset, x.offset + x.length);
  }
  for (auto& [id, spans] : bytes) {
    RegionDiff d;
    d.region_id = id;
    std::vector<std::pair<uint64_t, uint64_t>> lines;
    for (const auto& [b, e] : spans) lines.emplace_back(b / kLine * kLine, (e + kLine - 1) / kLine * kLine);
    for (const auto& [b, e] : Merge(std::move(spans))) d.bytes += e - b;
    d.line_ranges = Merge(std::move(lines));
    for (const auto& [b, e] : d.line_ranges) d.lines += (e - b) / kLine;
    r.regions.push_back(std::move(d));
  }
  return r;
}

std::string FormatDiffText(const DiffReport& r) {
  std::string out = "app " + r.app + " (" + r.source + "): epochs " + std::to_string(r.from + 1) + ".." +
                    std::to_string(r.to) + " wrote " + std::to_string(r.records) + " record(s)\n";
  std::vector<TableRow> rows = {{"REGION", "LINES", "BYTES", "RANGES", "FIRST", "END"}};
  for (const RegionDiff& d : r.regions)
    rows.push_back({core::RegionName(d.region_id), std::to_string(d.lines), HumanBytes(d.bytes),
                    std::to_string(d.line_ranges.size()), HexAddress(d.line_ranges.front().first),
                    HexAddress(d.line_ranges.back().second)});
  out += FormatTextTable(rows, {true, false, false, false, false, false});
  if (r.regions.empty()) out += "(no region changed)\n";
  return out;
}

std::string FormatDiffJson(const DiffReport& r) {
  std::string out = "{\n  \"app\": " + JsonString(r.app) + ",\n  \"source\": " + JsonString(r.source) +
                    ",\n  \"from_epoch\": " + std::to_string(r.from) + ",\n  \"to_epoch\": " + std::to_string(r.to) +
                    ",\n  \"records\": " + std::to_string(r.records) + ",\n  \"regions\": [";
  for (size_t i = 0; i < r.regions.size(); ++i) {
    const RegionDiff& d = r.regions[i];
    out += (i == 0 ? "\n" : ",\n");
    out += "    {\"id\": " + std::to_string(d.region_id) + ", \"name\": " + JsonString(core::RegionName(d.region_id)) +
           ", \"lines\": " + std::to_string(d.lines) + ", \"bytes\": " + std::to_string(d.bytes) +
           ", \"ranges\": [";
    for (size_t j = 0; j < d.line_ranges.size(); ++j)
      out += (j == 0 ? "" : ", ") + std::string("{\"offset\": ") + std::to_string(d.line_ranges[j].first) +
             ", \"length\": " + std::to_string(d.line_ranges[j].second - d.line_ranges[j].first) + "}";
    out += "]}";
  }
  out += r.regions.empty() ? "]\n}\n" : "\n  ]\n}\n";
  return out;
}

}  // namespace respct::inspect
