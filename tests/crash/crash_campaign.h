// CrashCampaign: kill -9 an example program under respct at random instants,
// recover it with respct-recover, kill it again, ..., and check after every
// step that nothing went backwards and at the end that the result is the
// native one. Shared by the ctest campaign (tests/crash) and
// tools/crash-campaign, which runs the same campaign at scale.
//
// One cycle: respct-run --fresh, then (kill, respct-recover)*, until the
// program exits; its digest line must equal the native run's. Kills stop
// after `kills`, then the program is let run to completion. A kill before the
// first committed epoch is a cold start: respct-recover must say there is
// nothing to recover, and the cycle starts fresh.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/transport/secret.h"

namespace respct::crashtest {

struct Example {
  std::string name;  // also the prefix of its output lines
  std::string binary;
  std::vector<std::string> args;
  std::string counter;  // the progress field that only goes forward
};

struct CampaignOptions {
  Example example;
  std::string run_bin, recover_bin;  // respct-run, respct-recover
  std::string memnode_url, secret_file;
  Secret secret;
  std::string app;
  std::string work_dir;            // output files, and RESPCT_STATE_DIR of the tools
  std::string native_digest_line;  // DigestLine() of an uninterrupted native run
  std::vector<std::string> layout;  // respct-run flags shaping the image (sizes)
  unsigned kills = 17;
  // A kill lands uniformly in [min, max] ms after the program (re)started:
  // after spawn for a fresh run; for a recovery, after respct-recover said it
  // resumes (so the kill hits the program, not the image fetch) or, for half
  // of them, after the recovered program's first progress line.
  unsigned min_kill_ms = 50, max_kill_ms = 2000;
  uint64_t seed = 1;
};

struct CampaignResult {
  unsigned kills = 0;
  unsigned recoveries = 0;    // respct-recover runs that resumed the program
  unsigned cold_starts = 0;   // kills before any committed epoch
  unsigned completions = 0;   // cycles that ran to the end with the native digest
  unsigned finished_before_kill = 0;  // of those, killed while exiting after the result line
  unsigned epochs_advanced = 0;  // recoveries from a later epoch than the cycle's previous one
  std::vector<double> recovery_ms;  // respct-recover start -> first progress line
  std::vector<double> resume_ms;    // respct-recover "resuming" line -> first progress line
  std::vector<double> lost_ms;      // kill -> capture of the epoch recovered
  std::vector<std::string> failures;  // invariant failures, each with its evidence
  // One line, "key=value ...", parsed by tools/crash-campaign.
  std::string Summary() const;
};

CampaignResult RunCampaign(const CampaignOptions& options);

}  // namespace respct::crashtest
