// FakeMemnode: one memnode holding one application, in memory, for unit
// tests of what talks to a Transport (the Replicator first). Connect()
// returns a FakeTransport (fake_transport.h), a "connection" to it. The state
// (image, committed epoch, epoch history) belongs to the FakeMemnode, not to a
// connection, so a client that reconnects finds what was committed before,
// as it would on respct-memnode.
//
// It checks the calls it receives the way respct-memnode and ClientSession
// do, and refuses the others: the app must exist (or be created) with the
// same regions; one writer at a time (a reconnection with the same writer
// token takes over; a writer generation below the highest one seen is
// refused as fenced, a higher one with take_over ends the attached writer's
// session); a
// writer appends only to an epoch after the committed
// one (usually the next; more when it catches a replica up) and commits
// epochs in order; ranges lie inside their region; an epoch
// whose records and commit record need more than the app's ring is refused
// with ResourceExhausted and dropped, the session staying usable. Every
// refusal is also kept in refusals(), so a test can check that a client
// never made one. Unlike the real ring, an epoch is applied the moment it
// commits, so its ring space is free at once, and lap padding is not
// modelled.
//
// Faults, in the style of LevelDB's fault-injecting Env: set from the test
// thread at any time, consumed by the calls that meet them.
//   FailNext(op, n)          the next n calls of `op` fail with an I/O error
//                            (the message was lost); the connection is dead
//                            afterwards, as a ClientSession is
//   Delay(op, ms)            every call of `op` first sleeps `ms` (0: no delay)
//   LoseNextCommitAck()      the next Commit commits, then fails and kills the
//                            connection: only a reconnection tells the client
//                            (AttachInfo::committed_epoch) that it committed
//   DisconnectAfterAppends(k) the next k appends succeed, the one after fails
//                            and the connection is dead until the client
//                            reconnects
//   CorruptNextRead(kind)    the next ReadImage returns flipped bytes as if
//                            they were fine, or fails with Corruption
//   SetReachable(false)      Connect fails with Unavailable until set back
#pragma once

#include <array>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/base/status.h"
#include "runtime/transport/transport.h"
#include "runtime/wire/message.h"

namespace respct::testing {

class FakeMemnode : public std::enable_shared_from_this<FakeMemnode> {
 public:
  // The calls faults apply to.
  enum class Op { kConnect, kAppend, kCommit, kReadImage, kList };
  enum class Corruption { kFlipByte, kErrorStatus };

  // What one committed record wrote.
  struct Record {
    uint32_t region_id;
    uint64_t offset;
    std::vector<uint8_t> bytes;
  };

  // `app` is the only app this memnode knows; it exists once a Connect with
  // `create` made it. `default_ring` is the ring it gets when that Connect
  // asks for none (ConnectOptions::ring_capacity 0).
  static std::shared_ptr<FakeMemnode> Create(std::string app, uint64_t default_ring = 64u << 20);

  // A new connection, checked as respct-memnode checks an attach.
  Result<std::unique_ptr<Transport>> Connect(const ConnectOptions& options);

  // ---- faults ----
  void FailNext(Op op, int count);
  void Delay(Op op, int ms);
  void LoseNextCommitAck();
  void DisconnectAfterAppends(int k);
  void CorruptNextRead(Corruption kind);
  void SetReachable(bool reachable);

  // ---- what the memnode saw and holds ----
  uint64_t committed_epoch() const;
  // Committed image bytes of a region (zero where nothing was written).
  std::vector<uint8_t> ImageBytes(uint32_t region_id, uint64_t offset, size_t len) const;
  // The records epoch `epoch` committed, in the order they were appended.
  std::vector<Record> RecordsOf(uint64_t epoch) const;
  // Append calls the memnode accepted for `epoch`, over every connection
  // (an epoch resent whole counts its records twice).
  uint64_t AppendsReceived(uint64_t epoch) const;
  // How many times `epoch` was committed (a correct client: at most once).
  uint64_t CommitsOf(uint64_t epoch) const;
  // Epochs in the order they were committed.
  std::vector<uint64_t> CommitOrder() const;
  // Connections made (successful Connect calls).
  uint64_t connections() const;
  // Calls of `op` that reached the memnode (before any fault or check).
  uint64_t CallsStarted(Op op) const;
  // Waits until CallsStarted(op) >= n; false if `timeout` passed first.
  bool WaitForCalls(Op op, uint64_t n, std::chrono::milliseconds timeout) const;
  // Calls refused because the client broke the protocol (wrong epoch, range
  // outside a region, a call on a dead connection...), one line each.
  std::vector<std::string> refusals() const;

  // ---- the connection side, called by FakeTransport ----
  Status Append(uint64_t conn, uint64_t epoch, uint32_t region_id, uint64_t offset, const void* data, size_t len);
  Status Commit(uint64_t conn, uint64_t epoch);
  Status ReadImage(uint64_t conn, uint32_t region_id, uint64_t offset, void* dst, size_t len);
  Result<std::vector<wire::AppSummary>> ListApps(uint64_t conn);
  Result<EpochListing> ListEpochs(uint64_t conn, std::string_view app, uint64_t from, uint64_t to);
  Result<std::vector<wire::EpochWrites>> ListWrites(uint64_t conn, std::string_view app, uint64_t from, uint64_t to);
  void Close(uint64_t conn);

 private:
  struct Connection {
    bool alive = true;
    bool writer = false;
    bool admin = false;
    std::array<uint8_t, wire::kWriterTokenSize> token{};
  };
  // The epoch the current writer is building.
  struct OpenEpoch {
    uint64_t conn = 0;
    uint64_t epoch = 0;
    uint64_t ring_bytes = 0;
    std::vector<Record> records;
  };
  struct Committed {
    wire::EpochInfo info{};
    std::vector<Record> records;
  };

  FakeMemnode(std::string app, uint64_t default_ring) : app_(std::move(app)), default_ring_(default_ring) {}

  // Counts the call, then sleeps for its delay (outside the lock).
  void Enter(Op op);
  // The connection if it may be used, else why not (recorded as a refusal
  // when it is the client's fault).
  Result<Connection*> Usable(uint64_t conn);
  Result<Connection*> UsableWriter(uint64_t conn);
  Status Refuse(Status st);
  Status Kill(uint64_t conn, Status st);
  Status CheckRange(uint32_t region_id, uint64_t offset, uint64_t len) const;
  Status CheckQueriedApp(const Connection& c, std::string_view app) const;
  bool TakeFault(Op op);

  const std::string app_;
  const uint64_t default_ring_;

  mutable std::mutex mu_;
  mutable std::condition_variable calls_cv_;
  // The app.
  bool exists_ = false;
  std::vector<RegionSpec> regions_;
  uint64_t ring_capacity_ = 0;
  uint64_t committed_epoch_ = 0;
  uint64_t ring_tail_ = 0;  // ring position after the last commit record
  std::map<uint32_t, std::vector<uint8_t>> image_;  // grown to the last byte written
  std::map<uint64_t, Committed> history_;
  OpenEpoch open_;
  uint64_t writer_conn_ = 0;  // 0: no writer attached
  uint64_t generation_ = 0;   // the highest writer generation that attached
  // Connections.
  uint64_t next_conn_ = 1;
  std::map<uint64_t, Connection> conns_;
  // Observations.
  std::map<uint64_t, uint64_t> appends_received_;
  std::map<uint64_t, uint64_t> commits_of_;
  std::vector<uint64_t> commit_order_;
  uint64_t connections_ = 0;
  std::map<Op, uint64_t> calls_started_;
  std::vector<std::string> refusals_;
  // Faults.
  std::map<Op, int> fail_next_;
  std::map<Op, int> delay_ms_;
  bool lose_next_ack_ = false;
  int appends_before_disconnect_ = -1;  // -1: no disconnect planned
  bool corrupt_next_read_ = false;
  Corruption corruption_ = Corruption::kFlipByte;
  bool reachable_ = true;
};

}  // namespace respct::testing
