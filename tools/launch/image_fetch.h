// Fetching the image of an application's last committed epoch from its
// memnode into a local RecoveryImage file (runtime/core/recovery_image.h),
// for the shim of the process respct-recover starts. Only the prefix of each
// region that was ever in use is read (the meta header records it;
// beyond it the image is zero), and zero pages stay holes in the file.
#pragma once

#include <cstdint>
#include <string>

#include "runtime/base/status.h"
#include "runtime/transport/secret.h"

namespace respct::launch {

struct ImageFetchOptions {
  // A URL, or comma-separated replicas: then the image is read from the one
  // with the highest committed epoch among a read quorum of them
  // (replica_set.h), which must answer.
  std::string memnode;
  std::string commit_quorum = "majority";  // of the replicas
  Secret secret;
  std::string app;
  std::string path;           // file to write
  uint64_t epoch = 0;         // 0: the last committed; else must be it
  bool progress = false;      // progress line on stderr
  int writer_wait_ms = 5000;  // how long a still-attached writer (a dying process) may take to go
  bool take_over = false;     // read it anyway: the recovered writer fences the attached one
};

struct FetchedImage {
  uint64_t epoch = 0;
  uint64_t bytes = 0;  // read from the memnode
  double seconds = 0;
  uint8_t at_random[16] = {};
  uint32_t threads = 0;  // slots to resume or restart
  // What the program had that a recovery does not restore (advisory counts).
};

Result<FetchedImage> FetchImage(const ImageFetchOptions& options);

// What the memnode holds of an app, for respct-run --resume: whether there
// is a committed image, and whether it is of a run that crashed (to resume)
// or of one that finished (the final checkpoint marked it exited, or no
// thread is left to resume). Reads the meta header only.
struct ImageProbe {
  bool present = false;      // the app is on the memnode
  uint64_t committed_epoch = 0;
  bool exited = false;       // the image is of a finished run
};
Result<ImageProbe> ProbeImage(const ImageFetchOptions& options);

}  // namespace respct::launch
