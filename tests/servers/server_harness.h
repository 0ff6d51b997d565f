// What the server tests share: Debian's memcached or redis-server run under
// respct-run on a memnode (the embedded one over shm, or a respct-memnode of
// the test's own over tcp), client threads setting keys while it runs, a
// sampler of the app's committed epoch, kill -9, respct-recover, and the
// check of what the recovered server holds.
//
// The check (Verify) and why it is the strongest one we can justify: a key
// whose set was acknowledged at time A was stored in the server's memory
// before A. The sampler asks the memnode for the app's committed epoch again
// and again; let R be the answer of the first query started at or after A:
// epoch R+1 was not committed when that query was answered, so its commit
// came after A. The shim captures epoch E+1 only once epoch E is committed
// (one epoch in flight: EpochCoordinator waits for Replicator::Idle(), and an
// abandoned round keeps its epoch number), so the pause of epoch R+2 came
// after A and its image holds the key. Hence: after a recovery from epoch E
// (the epoch respct-recover says it resumes), every key with R+2 <= E must be
// present with its value; every other key that was sent may be present or
// not, but if present it has its value; keys never sent are absent; and the
// server's own count (memcached's curr_items, redis's DBSIZE) equals the
// number of keys found.
//
// With output commit (respct's default) the rule is stronger and needs no
// sampler: an acknowledgement leaves the server only once the epoch whose
// state holds the key is committed, and a recovery resumes the last committed
// epoch, so every acknowledged key must be present.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "runtime/transport/secret.h"
#include "tests/crash/committed_image.h"
#include "harness/memnode_process.h"
#include "tests/shim/shim_test_util.h"

namespace respct::servertest {

enum class ServerKind { kMemcached, kRedis };
enum class MemnodeKind { kEmbeddedShm, kTcp };

const char* ServerName(ServerKind k);
const char* MemnodeName(MemnodeKind k);

// One case of the server matrix every server test runs: each server over
// each memnode transport.
struct ServerCase {
  ServerKind server;
  MemnodeKind memnode;
  bool output_commit = true;  // respct's default; off: replies leave before their epoch commits
  // "--output-commit on|off", for respct-run and respct-recover.
  std::vector<std::string> OutputCommitFlags() const { return {"--output-commit", output_commit ? "on" : "off"}; }
};
inline auto AllServerCases() {
  return testing::Values(ServerCase{ServerKind::kMemcached, MemnodeKind::kEmbeddedShm},
                         ServerCase{ServerKind::kMemcached, MemnodeKind::kTcp},
                         ServerCase{ServerKind::kRedis, MemnodeKind::kEmbeddedShm},
                         ServerCase{ServerKind::kRedis, MemnodeKind::kTcp});
}
// "memcached_shm", "redis_tcp", ..., "memcached_shm_output_commit_off": the
// test-name suffix of a case.
inline std::string ServerCaseName(const testing::TestParamInfo<ServerCase>& i) {
  return std::string(ServerName(i.param.server)) + "_" + MemnodeName(i.param.memnode) +
         (i.param.output_commit ? "" : "_output_commit_off");
}
// The server's binary on PATH (/usr/bin/memcached, /usr/bin/redis-server), empty when not installed.
std::string ServerBinary(ServerKind k);
// The server's command line on 127.0.0.1:port (memcached -t 4; redis without persistence).
std::vector<std::string> ServerArgv(ServerKind k, const std::string& binary, uint16_t port);

// The memnode a test runs the server against, and the respct-run /
// respct-recover command lines for it.
class TestMemnode {
 public:
  TestMemnode(MemnodeKind kind, const std::string& dir);
  ~TestMemnode();  // the embedded memnode is killed (it would outlive the test)
  testing::AssertionResult Start();
  MemnodeKind kind() const { return kind_; }
  // respct-run [--memnode URL --secret-file F] --app APP --epoch-ms 10 EXTRA -- PROGRAM
  std::vector<std::string> RunArgv(const std::string& app, const std::vector<std::string>& extra,
                                   const std::vector<std::string>& program) const;
  std::vector<std::string> RecoverArgv(const std::string& app, const std::vector<std::string>& program,
                                       const std::vector<std::string>& extra = {}) const;
  // Environment for both (RESPCT_STATE_DIR of the embedded memnode).
  shimtest::ChildOptions ChildEnv(int timeout_s) const;
  // The embedded memnode exists once a respct-run has started it: waits (bounded) for its ready file.
  testing::AssertionResult WaitReady();
  std::string url() const;
  const Secret& secret() const { return secret_; }
  std::string state_dir() const { return state_dir_; }
  std::string LogTail() const;

 private:
  MemnodeKind kind_;
  std::string state_dir_;
  std::unique_ptr<test::MemnodeProcess> mn_;
  Secret secret_;
  pid_t embedded_pid_ = 0;
};

// Polls the memnode for an app's committed epoch on its own thread.
class EpochSampler {
 public:
  EpochSampler(std::string url, Secret secret, std::string app);
  ~EpochSampler();
  void Stop();
  uint64_t latest() const { return latest_.load(); }
  // R: the answer of the first query started at or after `t_ns` (steady clock); nullopt if none yet.
  std::optional<uint64_t> FirstAtOrAfter(int64_t t_ns) const;
  // Waits (bounded) until the committed epoch exceeds `epoch`.
  bool WaitBeyond(uint64_t epoch, int timeout_ms) const;

 private:
  void Run();
  std::string url_, app_;
  Secret secret_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> latest_{0};
  mutable std::mutex mu_;
  std::vector<std::pair<int64_t, uint64_t>> samples_;  // (query start, committed epoch)
  std::thread thread_;
};

int64_t NowNs();

// One key a client thread set (or tried to).
struct KeyRecord {
  std::string key, value;
  int64_t ack_ns = 0;  // 0: sent, not acknowledged
};

// Client threads, each on its own connection, setting PREFIX<t>-<i> until
// stopped or until the server goes away.
class Load {
 public:
  Load(ServerKind kind, uint16_t port, std::string prefix, int threads);
  ~Load();
  void Stop();  // joins (each client is bounded by its socket timeouts)
  size_t acked() const { return acked_.load(); }
  // Every key sent, and per thread the first index never sent (those keys must be absent).
  std::vector<KeyRecord> Records() const;
  std::vector<std::string> NeverSent() const;

 private:
  void Client(int t);
  ServerKind kind_;
  uint16_t port_;
  std::string prefix_;
  std::atomic<bool> stop_{false};
  std::atomic<size_t> acked_{0};
  std::vector<std::vector<KeyRecord>> per_thread_;
  std::vector<std::thread> threads_;
};

// The value a key is set to: deterministic, 24..160 bytes, names the key.
std::string ValueFor(const std::string& key);

struct VerifyResult {
  size_t sent = 0, acked = 0, required = 0, present = 0;
  size_t server_count = 0;  // curr_items / DBSIZE
  std::vector<std::string> missing, wrong, phantom;  // first few of each
  std::string error;  // the exchange failed
  bool ok() const { return error.empty() && missing.empty() && wrong.empty() && phantom.empty(); }
  std::string Describe() const;
};

// Checks what the server on `port` holds against `records` (see the top of
// this file); `resumed_epoch` is the epoch the recovery resumed (0: a fresh
// start, nothing required). `output_commit`: the server ran with it, so every
// acknowledged key is required; else the R+2 rule. Records in
// `always_required` are required whatever their ack time (keys a previous
// recovery found: the image keeps them).
VerifyResult Verify(ServerKind kind, uint16_t port, const std::vector<KeyRecord>& records,
                    const std::vector<std::string>& never_sent, const EpochSampler& sampler, uint64_t resumed_epoch,
                    bool output_commit, const std::vector<KeyRecord>& always_required = {});

// Keys of `records` that `Verify` found present (for the next round's always_required).
std::vector<KeyRecord> PresentKeys(ServerKind kind, uint16_t port, const std::vector<KeyRecord>& records);

using crashtest::ResumedEpoch;

// The server answers its status command: memcached `stats` (with pid and
// curr_items), redis `PING` and `DBSIZE`.
testing::AssertionResult Answers(ServerKind kind, uint16_t port);

}  // namespace respct::servertest
