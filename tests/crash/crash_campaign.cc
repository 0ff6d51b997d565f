#include "tests/crash/crash_campaign.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <numeric>
#include <optional>
#include <random>
#include <thread>

#include "tests/crash/committed_image.h"
#include "tests/crash/output_follower.h"
#include "tests/shim/shim_test_util.h"

namespace respct::crashtest {
namespace {

using shimtest::Child;
using shimtest::ChildOptions;
using shimtest::ChildResult;

constexpr int kWriterGoneWaitMs = 10000;
constexpr int kSegmentTimeoutS = 600;
constexpr size_t kMaxFailures = 10;

std::vector<std::string> ToolCommand(const std::string& tool, const CampaignOptions& o,
                                     const std::vector<std::string>& flags) {
  std::vector<std::string> argv = {tool, "--memnode", o.memnode_url, "--secret-file", o.secret_file, "--app", o.app,
                                   "--epoch-ms", "10"};
  argv.insert(argv.end(), flags.begin(), flags.end());
  argv.push_back("--");
  argv.push_back(o.example.binary);
  argv.insert(argv.end(), o.example.args.begin(), o.example.args.end());
  return argv;
}

double Ms(uint64_t ns) { return static_cast<double>(ns) / 1e6; }

std::string Stats(const char* key, const std::vector<double>& v) {
  const double mean = v.empty() ? 0 : std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
  const double max = v.empty() ? 0 : *std::max_element(v.begin(), v.end());
  char buf[160];
  std::snprintf(buf, sizeof buf, " %s_n=%zu %s_mean=%.1f %s_max=%.1f", key, v.size(), key, mean, key, max);
  return buf;
}

class Campaign {
 public:
  explicit Campaign(const CampaignOptions& o) : o_(o), rng_(o.seed), kill_after_ms_(o.min_kill_ms, o.max_kill_ms) {}

  CampaignResult Run() {
    // Bounded on failures too: a memnode gone for good must not loop forever.
    while ((r_.kills < o_.kills || recovering_) && r_.failures.size() < kMaxFailures) RunSegment();
    return r_;
  }

 private:
  void Fail(const std::string& why) {
    r_.failures.push_back(why);
    recovering_ = false;  // a new cycle: what follows a broken one proves nothing
  }

  std::string Path(const std::string& tag, const char* ext) const { return o_.work_dir + "/" + tag + ext; }

  // One process: a fresh start or a recovery, until it is killed or exits.
  void RunSegment() {
    const bool last = r_.kills >= o_.kills;
    const std::string tag = "seg" + std::to_string(segment_++);
    if (!recovering_) {
      // The previous run may have just exited: the memnode refuses to reset
      // an app (--fresh) until it has noticed that writer is gone.
      if (segment_ > 1) {
        auto img = ReadCommittedImage(o_.memnode_url, o_.secret, o_.app, kWriterGoneWaitMs);
        if (!img.ok()) return Fail(tag + ": before a fresh start: " + img.status().ToString());
      }
      cycle_start_ns_ = UnixNowNs();
      bound_ = 0;
      cycle_epoch_ = 0;
    }
    std::vector<std::string> run_flags = o_.layout;
    run_flags.insert(run_flags.begin(), "--fresh");
    ChildOptions co;
    co.env.emplace_back("RESPCT_STATE_DIR", o_.work_dir);
    co.stdout_file = Path(tag, ".out");
    co.timeout_s = kSegmentTimeoutS;
    const uint64_t spawn_ns = UnixNowNs();
    Child child(o_.work_dir, tag,
                recovering_ ? ToolCommand(o_.recover_bin, o_, {}) : ToolCommand(o_.run_bin, o_, run_flags), co);
    OutputFollower out(co.stdout_file), err(Path(tag, ".err"));
    uint64_t origin_ns = recovering_ ? 0 : spawn_ns, resumed_ns = 0;
    const uint64_t delay_ns = kill_after_ms_(rng_) * 1'000'000ull;
    // Half the recoveries are killed counting from respct-recover's
    // "resuming" line (so some land while memory is being restored), half
    // from the program's first progress line (so the check of that line and
    // kills of a recovered program that runs again are not left to chance).
    const bool from_progress = recovering_ && (rng_() & 1) != 0;
    bool exited = false;
    for (;;) {
      exited = child.Exited();  // before the last read: all output is in once it exited
      out.Poll();
      if (recovering_ && resumed_ns == 0) {
        err.Poll();
        for (const SeenLine& l : err.lines())
          if (l.text.find(": resuming app '") != std::string::npos) resumed_ns = l.seen_unix_ns;
        if (!from_progress) origin_ns = resumed_ns;
      }
      if (from_progress && origin_ns == 0)
        for (const SeenLine& l : out.lines())
          if (ProgressValue(l.text, o_.example.name, o_.example.counter)) origin_ns = l.seen_unix_ns;
      if (exited || (!last && origin_ns != 0 && UnixNowNs() >= origin_ns + delay_ns)) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    if (resumed_ns != 0) ++r_.recoveries;
    CheckFirstProgress(tag, out, spawn_ns, resumed_ns);
    if (exited) {
      Finished(tag, child.Wait());
      return;
    }
    const uint64_t kill_ns = UnixNowNs();
    child.Kill();
    ++r_.kills;
    out.Poll();  // all it wrote; stamped after the kill, so never counted as before a capture
    Killed(tag, out, kill_ns);
  }

  // Progress only goes forward. Every line this test saw before the capture
  // of the epoch a recovery resumes was written before that capture, so the
  // counter it shows is <= the counter in the recovered state, and the first
  // progress line of the recovered program must show at least that much
  // (the counters are monotonic in the program). Lines written after the
  // capture (lost work) are not counted: their progress may be redone. This
  // needs neither the program's memory layout nor trust in the program's own
  // output about the recovery, only the capture time in the image's meta
  // header (CLOCK_REALTIME, the clock OutputFollower stamps with).
  void CheckFirstProgress(const std::string& tag, const OutputFollower& out, uint64_t spawn_ns, uint64_t resumed_ns) {
    if (!recovering_) return;
    for (const SeenLine& l : out.lines()) {
      const auto v = ProgressValue(l.text, o_.example.name, o_.example.counter);
      if (!v) continue;
      r_.recovery_ms.push_back(Ms(l.seen_unix_ns - spawn_ns));
      if (resumed_ns != 0) r_.resume_ms.push_back(Ms(l.seen_unix_ns - std::min(resumed_ns, l.seen_unix_ns)));
      if (*v < bound_)
        Fail(tag + ": progress went backwards: the first progress line after recovering epoch " +
             std::to_string(cycle_epoch_) + " says " + o_.example.counter + "=" + std::to_string(*v) +
             ", but a line written before that epoch's capture said " + std::to_string(bound_) + " (\"" + l.text +
             "\")");
      return;
    }
  }

  void Finished(const std::string& tag, ChildResult res) {
    res.out = shimtest::ReadFile(Path(tag, ".out"));
    const auto line = shimtest::DigestLine(o_.example.name, res.out);
    if (res.exit_code == 0 && line && *line == o_.native_digest_line) {
      ++r_.completions;
      recovering_ = false;
      return;
    }
    Fail(tag + (recovering_ ? " (recovered from epoch " + std::to_string(cycle_epoch_) + ")" : " (fresh)") +
         " did not end with the native result \"" + o_.native_digest_line + "\"" + res.Describe());
  }

  void Killed(const std::string& tag, const OutputFollower& out, uint64_t kill_ns) {
    // Killed after it printed its result, while exiting: the work is done
    // (its last image may hold no thread to resume), the cycle is over.
    std::string text;
    for (const SeenLine& l : out.lines()) text += l.text + "\n";
    if (const auto line = shimtest::DigestLine(o_.example.name, text)) {
      ++r_.finished_before_kill;
      if (*line == o_.native_digest_line) {
        ++r_.completions;
        recovering_ = false;
        return;
      }
      return Fail(tag + " printed \"" + *line + "\", not the native \"" + o_.native_digest_line + "\"");
    }
    auto img = ReadCommittedImage(o_.memnode_url, o_.secret, o_.app, kWriterGoneWaitMs);
    if (!img.ok()) return Fail(tag + ": reading the committed image: " + img.status().ToString());
    // A fresh run killed before it reset the app leaves the previous cycle's image.
    const bool stale = !recovering_ && img->epoch != 0 && img->capture_unix_ns < cycle_start_ns_;
    if (!img->present || img->epoch == 0 || stale) {
      if (recovering_) return Fail(tag + ": the app's committed image is gone after a recovery");
      ++r_.cold_starts;
      if (!stale) ExpectNothingToRecover(tag);
      return;
    }
    if (img->epoch < cycle_epoch_)
      return Fail(tag + ": the committed epoch went back from " + std::to_string(cycle_epoch_) + " to " +
                  std::to_string(img->epoch));
    if (cycle_epoch_ != 0 && img->epoch > cycle_epoch_) ++r_.epochs_advanced;
    cycle_epoch_ = img->epoch;
    for (const SeenLine& l : out.lines()) {
      const auto v = ProgressValue(l.text, o_.example.name, o_.example.counter);
      if (v && l.seen_unix_ns <= img->capture_unix_ns) bound_ = std::max(bound_, *v);
    }
    r_.lost_ms.push_back(Ms(kill_ns - std::min(kill_ns, img->capture_unix_ns)));
    recovering_ = true;
  }

  // A kill before the first commit: respct-recover must refuse plainly.
  void ExpectNothingToRecover(const std::string& killed_tag) {
    ChildOptions co;
    co.env.emplace_back("RESPCT_STATE_DIR", o_.work_dir);
    co.timeout_s = 60;
    const ChildResult res =
        shimtest::RunChild(o_.work_dir, killed_tag + "-nothing", ToolCommand(o_.recover_bin, o_, {}), co);
    // Wording by case: the app was created but never committed, or never created.
    const bool said = res.err.find("has no committed epoch") != std::string::npos ||
                      res.err.find("is not on the memnode") != std::string::npos ||
                      res.err.find("no app '" + o_.app + "' in the pool") != std::string::npos;
    if (res.exit_code != 70 || !said)
      Fail(killed_tag + " was killed before any commit, but respct-recover did not say there is nothing to recover" +
           res.Describe());
  }

  const CampaignOptions& o_;
  std::mt19937_64 rng_;
  std::uniform_int_distribution<uint64_t> kill_after_ms_;
  CampaignResult r_;
  bool recovering_ = false;  // the next segment recovers
  unsigned segment_ = 0;
  uint64_t cycle_start_ns_ = 0;
  uint64_t cycle_epoch_ = 0;  // epoch recovered last in this cycle
  uint64_t bound_ = 0;        // counter value the recovered state has reached at least
};

}  // namespace

std::string CampaignResult::Summary() const {
  return "kills=" + std::to_string(kills) + " recoveries=" + std::to_string(recoveries) +
         " cold_starts=" + std::to_string(cold_starts) + " completions=" + std::to_string(completions) +
         " finished_before_kill=" + std::to_string(finished_before_kill) +
         " epochs_advanced=" + std::to_string(epochs_advanced) + " failures=" + std::to_string(failures.size()) +
         Stats("recovery_ms", recovery_ms) + Stats("resume_ms", resume_ms) + Stats("lost_ms", lost_ms);
}

CampaignResult RunCampaign(const CampaignOptions& options) { return Campaign(options).Run(); }

}  // namespace respct::crashtest
