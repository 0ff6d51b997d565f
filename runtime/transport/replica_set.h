// ReplicaSet: the memnodes that hold an app's image, and how many of them an
// epoch needs. One URL is today's single memnode; several are replicas, each
// a whole copy of the image (DESIGN.md §5):
//
//   write quorum W: replicas that must have an epoch durable before it is
//                   committed (acknowledged to the program, output released)
//                   majority: N/2 + 1; all: N
//   read quorum R:  replicas a recovery must hear from, R = N - W + 1, so that
//                   every read quorum meets every write quorum: the highest
//                   epoch among any R replicas is the last committed one
//
// A replica outside the write quorum is caught up in the background
// (runtime/core/replicator.h); the set tolerates N - W replicas lost.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/base/status.h"

namespace respct {

enum class CommitQuorum { kMajority, kAll };

struct ReplicaSet {
  std::vector<std::string> urls;
  CommitQuorum quorum = CommitQuorum::kMajority;

  size_t size() const { return urls.size(); }
  size_t write_quorum() const { return quorum == CommitQuorum::kAll ? urls.size() : urls.size() / 2 + 1; }
  size_t read_quorum() const { return urls.size() - write_quorum() + 1; }
  // "tcp://a:1" or "3 memnodes (commit on 2): tcp://a:1, tcp://b:1, ..."
  std::string ToString() const;
};

// "majority" or "all".
Result<CommitQuorum> ParseCommitQuorum(std::string_view text);
const char* CommitQuorumName(CommitQuorum q);

// A replica set from memnode URLs, each given alone or several separated by
// commas (RESPCT_MEMNODE="tcp://a:7101,tcp://b:7101"). Every URL is checked
// (ParseEndpoint); none may be named twice; at least one.
Result<ReplicaSet> ParseReplicaSet(const std::vector<std::string>& urls, CommitQuorum quorum);

}  // namespace respct
