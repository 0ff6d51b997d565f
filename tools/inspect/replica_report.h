// respct-inspect --replicas: an app as each memnode of its replica set holds
// it (DESIGN.md §5): committed and applied epoch, whether a writer is
// attached, and how far behind the highest epoch each is; and the last
// committed epoch as a recovery would find it, which needs a read quorum of
// the memnodes to answer. What the writer itself thinks of each replica (in
// the write quorum, down, left out, caught up how often) is in respct-run
// --stats.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/base/status.h"
#include "runtime/transport/replica_set.h"
#include "runtime/transport/secret.h"

namespace respct::inspect {

struct ReplicaRow {
  std::string url;
  bool answered = false;
  std::string problem;  // why not (unreachable, refused); empty when answered
  bool has_app = false;
  uint64_t committed_epoch = 0;
  uint64_t applied_epoch = 0;
  bool writer_attached = false;
};

struct ReplicaReport {
  std::string app;
  ReplicaSet set;
  std::vector<ReplicaRow> rows;  // in the order of the set
  size_t answered = 0;
  uint64_t highest_epoch = 0;    // among those that answered
  bool quorum = false;           // a read quorum answered: highest_epoch is the last committed
};

// Asks every memnode of `set` (admin sessions: no image is read).
ReplicaReport BuildReplicaReport(const ReplicaSet& set, const Secret& secret, const std::string& app);
// "up to date", "behind by N epochs", "no such app", "unreachable: ...".
std::string ReplicaState(const ReplicaReport& r, const ReplicaRow& row);
std::string FormatReplicasText(const ReplicaReport& r);
std::string FormatReplicasJson(const ReplicaReport& r);

}  // namespace respct::inspect
