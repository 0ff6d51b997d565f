#include "runtime/core/stall_report.h"

#include <dlfcn.h>

#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "runtime/base/json_string.h"
#include "runtime/core/restart_point.h"
#include "runtime/core/shim_log.h"

namespace respct::core {
namespace {

const char* StateName(uint32_t s) {
  switch (s) {
    case kSlotRunning: return "running";
    case kSlotParked: return "parked in an earlier round";
    case kSlotBlocked: return "blocked";
    case kSlotStarting: return "starting";
  }
  return "busy";
}

std::string Symbolize(uint64_t pc) {
  if (pc == 0) return "an unknown place";
  Dl_info info{};
  char buf[256];
  if (dladdr(reinterpret_cast<void*>(pc), &info) == 0 || info.dli_fname == nullptr) {
    std::snprintf(buf, sizeof buf, "0x%" PRIx64, pc);
    return buf;
  }
  const char* slash = std::strrchr(info.dli_fname, '/');
  const char* lib = slash != nullptr ? slash + 1 : info.dli_fname;
  if (info.dli_sname != nullptr) {
    std::snprintf(buf, sizeof buf, "%s+0x%" PRIx64 " (%s)", info.dli_sname,
                  pc - reinterpret_cast<uint64_t>(info.dli_saddr), lib);
  } else {
    std::snprintf(buf, sizeof buf, "0x%" PRIx64 " (%s+0x%" PRIx64 ")", pc, lib,
                  pc - reinterpret_cast<uint64_t>(info.dli_fbase));
  }
  return buf;
}

std::string ThreadName(int32_t tid) {
  char path[64], name[32] = "";
  std::snprintf(path, sizeof path, "/proc/self/task/%d/comm", tid);
  if (FILE* f = std::fopen(path, "re")) {
    if (std::fgets(name, sizeof name, f) == nullptr) name[0] = '\0';
    std::fclose(f);
  }
  name[strcspn(name, "\n")] = '\0';
  return name;
}

}  // namespace

StallReport::StallReport(uint32_t max_threads, const RuntimeStats* stats, uint64_t start_ns)
    : stats_(stats), start_ns_(start_ns), threads_(max_threads) {}

void StallReport::NoteAbandoned(const RoundResult& round, uint64_t) {
  ++abandoned_since_capture_;
  const Straggler& s = round.straggler;
  if (s.slot < 0 || static_cast<size_t>(s.slot) >= threads_.size()) return;
  last_ = s;
  PerThread& t = threads_[static_cast<size_t>(s.slot)];
  ++t.rounds_held;
  t.last = s;
}

void StallReport::NoteCaptured(uint64_t now_ns) {
  last_capture_ns_ = now_ns;
  abandoned_since_capture_ = 0;
}

std::string StallReport::Describe(const Straggler& s) const {
  if (s.slot < 0) return "no thread named";
  std::string d = "thread " + std::to_string(s.slot);
  const std::string name = s.tid != 0 ? ThreadName(s.tid) : "";
  if (!name.empty()) d += " '" + name + "'";
  if (s.tid != 0) d += " (tid " + std::to_string(s.tid) + ")";
  d += std::string(": ") + StateName(s.state);
  if (s.state == kSlotRunning) {
    if (s.signals_answered == 0) {
      d += ", did not answer " + std::to_string(s.signals_sent) +
           " stop signal(s) (in an uninterruptible system call, or the signal is blocked by a raw syscall)";
    } else {
      d += std::string(", ") + StopRefusalName(s.refusal) + ", at " + Symbolize(s.pc);
    }
  }
  return d;
}

void StallReport::MaybeWarn(uint64_t now_ns) {
  if (!warned_no_commit_ && stats_->committed() == 0 && now_ns - start_ns_ >= kFirstCommitNs) {
    warned_no_commit_ = true;
    last_warning_ns_ = now_ns;
    ShimLog(kLogWarn, "%.1f s after start no epoch is committed: the program is NOT protected yet%s%s",
            static_cast<double>(now_ns - start_ns_) / 1e9, last_capture_ns_ == 0 ? "; held up by " : "",
            last_capture_ns_ == 0 ? Describe(last_).c_str() : "");
    return;
  }
  const uint64_t since = now_ns - (last_capture_ns_ != 0 ? last_capture_ns_ : start_ns_);
  if (since < kStallNs || abandoned_since_capture_ == 0) return;
  if (last_warning_ns_ != 0 && now_ns - last_warning_ns_ < kWarnEveryNs) return;
  last_warning_ns_ = now_ns;
  ShimLog(kLogWarn, "no checkpoint for %.1f s (%llu attempts abandoned), the program is NOT protected meanwhile: %s",
          static_cast<double>(since) / 1e9, static_cast<unsigned long long>(abandoned_since_capture_),
          Describe(last_).c_str());
}

std::string StallReport::Text() const {
  std::string out;
  for (size_t i = 0; i < threads_.size(); ++i) {
    const PerThread& t = threads_[i];
    if (t.rounds_held == 0) continue;
    out += "  held up " + std::to_string(t.rounds_held) + " round(s): " + Describe(t.last) + "\n";
  }
  return out;
}

std::string StallReport::Json() const {
  std::string out = "[";
  bool first = true;
  for (size_t i = 0; i < threads_.size(); ++i) {
    const PerThread& t = threads_[i];
    if (t.rounds_held == 0) continue;
    out += std::string(first ? "" : ",") + "{\"slot\":" + std::to_string(i) + ",\"rounds\":" +
           std::to_string(t.rounds_held) + ",\"refusal\":\"" + StopRefusalName(t.last.refusal) + "\",\"where\":" +
           JsonString(Describe(t.last)) + "}";
    first = false;
  }
  return out + "]";
}

}  // namespace respct::core
