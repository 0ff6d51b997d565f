// What the memnode holds for an app after its writer was killed: the last
// committed epoch and, from the image's meta header, when that epoch was
// captured. Read the way respct-recover reads it: only once the memnode has
// noticed the writer is gone, so no commit can land after the read.
#pragma once

#include <cstdint>
#include <string>

#include "runtime/base/status.h"
#include "runtime/transport/secret.h"

namespace respct::crashtest {

struct CommittedImage {
  bool present = false;  // the app exists on the memnode
  uint64_t epoch = 0;    // 0: nothing committed yet
  uint64_t capture_unix_ns = 0;
  uint64_t commit_unix_ns = 0;
};

// The app's committed epoch as the memnode lists it now (its writer may be
// running); 0 when the app is not there or the memnode does not answer.
uint64_t CommittedEpochNow(const std::string& url, const Secret& secret, const std::string& app);

// Waits (up to `wait_ms`) for `app` to have no writer, then reads.
Result<CommittedImage> ReadCommittedImage(const std::string& url, const Secret& secret, const std::string& app,
                                          int wait_ms);

// N from "resuming app '...' at epoch N" in respct-recover's standard error; 0 if absent.
uint64_t ResumedEpoch(const std::string& recover_err);

}  // namespace respct::crashtest
