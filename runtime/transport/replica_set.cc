#include "runtime/transport/replica_set.h"

#include <algorithm>

#include "runtime/transport/transport.h"

namespace respct {

std::string ReplicaSet::ToString() const {
  if (urls.size() == 1) return urls[0];
  std::string s = std::to_string(urls.size()) + " memnodes (commit on " + std::to_string(write_quorum()) + "): ";
  for (size_t i = 0; i < urls.size(); ++i) s += (i == 0 ? "" : ", ") + urls[i];
  return s;
}

Result<CommitQuorum> ParseCommitQuorum(std::string_view text) {
  if (text == "majority") return CommitQuorum::kMajority;
  if (text == "all") return CommitQuorum::kAll;
  return Status::InvalidArgument("commit quorum '" + std::string(text) + "': expected majority or all");
}

const char* CommitQuorumName(CommitQuorum q) { return q == CommitQuorum::kAll ? "all" : "majority"; }

Result<ReplicaSet> ParseReplicaSet(const std::vector<std::string>& urls, CommitQuorum quorum) {
  ReplicaSet set;
  set.quorum = quorum;
  for (const std::string& list : urls) {
    for (size_t start = 0;;) {
      const size_t comma = list.find(',', start);
      const std::string url = list.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      if (url.empty()) return Status::InvalidArgument("memnode list '" + list + "' has an empty entry");
      if (auto e = ParseEndpoint(url); !e.ok()) return e.status();
      if (std::find(set.urls.begin(), set.urls.end(), url) != set.urls.end())
        return Status::InvalidArgument("memnode " + url + " is named twice: each replica must be another memnode");
      set.urls.push_back(url);
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  }
  if (set.urls.empty()) return Status::InvalidArgument("no memnode named");
  return set;
}

}  // namespace respct
