#include "tools/inspect/thread_report.h"

#include <cinttypes>
#include <cstdio>

#include "runtime/core/thread_table.h"
#include "tools/inspect/app_listing.h"
#include "runtime/base/json_string.h"
#include "tools/inspect/process_image.h"

namespace respct::inspect {
namespace {

// A live writer may commit between our reads; a report mixing two epochs
// would be wrong, so it is rebuilt (a few times at most) until the meta
// header's epoch is the same before and after.
constexpr int kConsistentReadAttempts = 5;

std::string StateName(uint32_t s) {
  const char* name = core::SlotStateName(s);
  return name != nullptr ? name : "unknown(" + std::to_string(s) + ")";
}

std::string ParkKindName(uint32_t k) {
  switch (k) {
    case core::kParkNone: return "none";
    case core::kParkRestartPoint: return "restart-point";
    case core::kParkSignal: return "signal";
    case core::kParkBlocking: return "blocking";
  }
  return "unknown(" + std::to_string(k) + ")";
}

bool HasContext(uint32_t s) { return s == core::kSlotParked || s == core::kSlotBlocked || s == core::kSlotFrozen; }

ThreadInfo Describe(ProcessImage* img, uint32_t index, const core::ThreadSlot& s, size_t max_frames) {
  ThreadInfo t;
  t.index = index;
  t.state = StateName(s.state);
  t.park_kind = ParkKindName(s.park_kind);
  if (s.flags & core::kSlotMain) t.flags.push_back("main");
  if (s.flags & core::kSlotDetached) t.flags.push_back("detached");
  t.start_routine = s.start_routine;
  t.start_symbol = s.start_routine != 0 ? img->Symbolize(s.start_routine) : "-";
  t.fctx = s.fctx;
  t.parked_epoch = s.parked_epoch;
  t.has_context = HasContext(s.state);
  if (!t.has_context) {
    t.backtrace.stop_reason = "no saved context in state " + t.state;
    return t;
  }
  auto ctx = ContextAtFctx(img, s.fctx);
  if (!ctx.ok()) {
    t.backtrace.stop_reason = ctx.status().message();
    return t;
  }
  t.backtrace = Unwind(img, *ctx, max_frames);
  return t;
}

}  // namespace

Result<ThreadReport> BuildThreadReport(ImageSource* source, size_t max_frames) {
  for (int attempt = 0; attempt < kConsistentReadAttempts; ++attempt) {
    auto img = ProcessImage::Load(source);
    if (!img.ok()) return img.status();
    ThreadReport r;
    r.app = source->app();
    r.source = source->source();
    r.epoch = (*img)->meta().epoch;
    r.exe_path = (*img)->modules().front().path;
    r.warnings = (*img)->warnings();
    const std::vector<core::ThreadSlot>& slots = (*img)->slots();
    for (uint32_t i = 0; i < slots.size(); ++i)
      if (slots[i].state != core::kSlotFree) r.threads.push_back(Describe(img->get(), i, slots[i], max_frames));
    auto after = (*img)->CurrentMetaEpoch();
    if (!after.ok()) return after.status();
    if (*after == r.epoch) return r;
  }
  return Status::Unavailable("app '" + source->app() + "' committed new epochs during every one of " +
                             std::to_string(kConsistentReadAttempts) +
                             " attempts to read its threads; try again, or inspect after the writer stops");
}

std::string FormatThreadsText(const ThreadReport& r) {
  std::string out = "app " + r.app + " (" + r.source + "), image epoch " + std::to_string(r.epoch) + ", " +
                    std::to_string(r.threads.size()) + " thread slot(s) in use, executable " + r.exe_path + "\n";
  for (const std::string& w : r.warnings) out += "warning: " + w + "\n";
  for (const ThreadInfo& t : r.threads) {
    std::string flags;
    for (const std::string& f : t.flags) flags += (flags.empty() ? "" : ",") + f;
    out += "\nthread " + std::to_string(t.index) + ": " + t.state +
           (t.has_context ? " (park: " + t.park_kind + ")" : "") + (flags.empty() ? "" : " [" + flags + "]") +
           "  start " + t.start_symbol + "\n";
    for (size_t i = 0; i < t.backtrace.frames.size(); ++i) {
      const StackFrame& f = t.backtrace.frames[i];
      char head[64];
      std::snprintf(head, sizeof head, "  #%-2zu 0x%016" PRIx64 " ", i, f.pc);
      out += head + (f.signal_trampoline ? "<signal handler called> " + f.symbol : f.symbol) + " (" + f.module + ")\n";
    }
    if (!t.backtrace.stop_reason.empty()) out += "  (" + t.backtrace.stop_reason + ")\n";
  }
  return out;
}

std::string FormatThreadsJson(const ThreadReport& r) {
  std::string out = "{\n  \"app\": " + JsonString(r.app) + ",\n  \"source\": " + JsonString(r.source) +
                    ",\n  \"epoch\": " + std::to_string(r.epoch) + ",\n  \"exe_path\": " + JsonString(r.exe_path) +
                    ",\n  \"warnings\": [";
  for (size_t i = 0; i < r.warnings.size(); ++i) out += (i ? ", " : "") + JsonString(r.warnings[i]);
  out += "],\n  \"threads\": [";
  for (size_t i = 0; i < r.threads.size(); ++i) {
    const ThreadInfo& t = r.threads[i];
    out += (i == 0 ? "\n" : ",\n");
    out += "    {\"index\": " + std::to_string(t.index) + ", \"state\": " + JsonString(t.state) +
           ", \"park_kind\": " + (t.has_context ? JsonString(t.park_kind) : std::string("null")) + ", \"flags\": [";
    for (size_t j = 0; j < t.flags.size(); ++j) out += (j ? ", " : "") + JsonString(t.flags[j]);
    out += "], \"start_routine\": " + JsonString(HexAddress(t.start_routine)) +
           ", \"start_symbol\": " + JsonString(t.start_symbol) + ", \"fctx\": " + JsonString(HexAddress(t.fctx)) +
           ", \"parked_epoch\": " + std::to_string(t.parked_epoch) + ",\n     \"backtrace\": [";
    for (size_t j = 0; j < t.backtrace.frames.size(); ++j) {
      const StackFrame& f = t.backtrace.frames[j];
      out += (j == 0 ? "\n" : ",\n");
      out += "       {\"pc\": " + JsonString(HexAddress(f.pc)) + ", \"sp\": " + JsonString(HexAddress(f.sp)) +
             ", \"symbol\": " + JsonString(f.symbol) + ", \"module\": " + JsonString(f.module) +
             ", \"signal_trampoline\": " + (f.signal_trampoline ? "true" : "false") +
             ", \"interrupted\": " + (f.interrupted ? "true" : "false") + "}";
    }
    out += "], \"backtrace_note\": " +
           (t.backtrace.stop_reason.empty() ? std::string("null") : JsonString(t.backtrace.stop_reason)) + "}";
  }
  out += r.threads.empty() ? "]\n}\n" : "\n  ]\n}\n";
  return out;
}

}  // namespace respct::inspect
