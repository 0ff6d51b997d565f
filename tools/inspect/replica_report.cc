#include "tools/inspect/replica_report.h"

#include <cstring>

#include "runtime/base/json_string.h"
#include "runtime/transport/transport.h"
#include "tools/inspect/text_table.h"

namespace respct::inspect {

ReplicaReport BuildReplicaReport(const ReplicaSet& set, const Secret& secret, const std::string& app) {
  ReplicaReport r;
  r.app = app;
  r.set = set;
  for (const std::string& url : set.urls) {
    ReplicaRow row;
    row.url = url;
    ConnectOptions admin;
    admin.timeout_ms = 5000;
    auto t = Transport::Connect(url, secret, admin);
    auto apps = t.ok() ? (*t)->ListApps() : Result<std::vector<wire::AppSummary>>(t.status());
    if (!apps.ok()) {
      row.problem = apps.status().ToString();
      r.rows.push_back(std::move(row));
      continue;
    }
    row.answered = true;
    ++r.answered;
    for (const wire::AppSummary& a : *apps) {
      if (app != std::string(a.name, strnlen(a.name, sizeof a.name))) continue;
      row.has_app = true;
      row.committed_epoch = a.committed_epoch;
      row.applied_epoch = a.applied_epoch;
      row.writer_attached = a.writer_attached != 0;
      if (a.committed_epoch > r.highest_epoch) r.highest_epoch = a.committed_epoch;
    }
    r.rows.push_back(std::move(row));
  }
  r.quorum = r.answered >= set.read_quorum();
  return r;
}

std::string ReplicaState(const ReplicaReport& r, const ReplicaRow& row) {
  if (!row.answered) return "unreachable: " + row.problem;
  if (!row.has_app) return "no such app";
  if (row.committed_epoch == r.highest_epoch) return "up to date";
  const uint64_t behind = r.highest_epoch - row.committed_epoch;
  return "behind by " + std::to_string(behind) + (behind == 1 ? " epoch" : " epochs");
}

namespace {

std::string Verdict(const ReplicaReport& r) {
  const std::string heard = std::to_string(r.answered) + " of " + std::to_string(r.set.size()) +
                            " answered, a read quorum is " + std::to_string(r.set.read_quorum()) + " with --commit-quorum " +
                            CommitQuorumName(r.set.quorum);
  if (!r.quorum) return "last committed epoch unknown: " + heard;
  return "last committed epoch " + std::to_string(r.highest_epoch) + " (" + heard + ")";
}

}  // namespace

std::string FormatReplicasText(const ReplicaReport& r) {
  std::vector<TableRow> rows = {{"MEMNODE", "COMMITTED", "APPLIED", "WRITER", "STATE"}};
  for (const ReplicaRow& row : r.rows) {
    const bool known = row.answered && row.has_app;
    rows.push_back({row.url, known ? std::to_string(row.committed_epoch) : "-",
                    known ? std::to_string(row.applied_epoch) : "-", row.writer_attached ? "attached" : "-",
                    ReplicaState(r, row)});
  }
  return "app " + r.app + " on " + std::to_string(r.set.size()) + " memnode(s)\n" +
         FormatTextTable(rows, {true, false, false, true, true}) + Verdict(r) + "\n";
}

std::string FormatReplicasJson(const ReplicaReport& r) {
  std::string j = "{\"app\": " + JsonString(r.app) + ", \"commit_quorum\": " + JsonString(CommitQuorumName(r.set.quorum)) +
                  ", \"read_quorum\": " + std::to_string(r.set.read_quorum()) + ", \"answered\": " +
                  std::to_string(r.answered) + ", \"last_committed_epoch\": " +
                  (r.quorum ? std::to_string(r.highest_epoch) : std::string("null")) + ", \"replicas\": [";
  for (size_t i = 0; i < r.rows.size(); ++i) {
    const ReplicaRow& row = r.rows[i];
    const bool known = row.answered && row.has_app;
    j += std::string(i ? ", " : "") + "{\"url\": " + JsonString(row.url) + ", \"committed_epoch\": " +
         (known ? std::to_string(row.committed_epoch) : "null") + ", \"applied_epoch\": " +
         (known ? std::to_string(row.applied_epoch) : "null") + ", \"writer_attached\": " +
         (row.writer_attached ? "true" : "false") + ", \"state\": " + JsonString(ReplicaState(r, row)) + "}";
  }
  return j + "]}\n";
}

}  // namespace respct::inspect
