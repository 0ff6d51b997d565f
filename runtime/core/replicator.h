// Replicator: ships each captured epoch to the memnodes and commits it, on
// a thread per memnode, while the application runs on (at most one epoch in
// flight: the coordinator waits for Idle() before the next capture).
//
// One memnode or several (a ReplicaSet, DESIGN.md §5): every replica in the
// write quorum gets every epoch, in parallel; an epoch is committed once W of
// them have it durable. A replica that fails is left out of the quorum and
// tried again in the background with backoff, one warning per outage; while
// W others answer, the application never waits for it. When it answers
// again it is caught up before it rejoins: with no epoch in flight and the
// next capture held back, it gets one epoch, numbered as the last committed
// one, with every byte it missed, read from a replica in the quorum — the
// ranges this process shipped while it was out (MissedWrites), else the
// ranges that replica's log says the missed epochs wrote, else the whole
// image in use. A replica that holds an epoch this writer never committed
// has diverged and is left out for good, loudly.
//
// Every connection carries the process's writer generation (its start time,
// drawn once): a memnode refuses a writer older than one that attached
// since, and ends an older writer's session when a newer one attaches. A
// process believed dead and recovered elsewhere (frozen, cut off) is so
// refused on its next commit, by every memnode: set_on_fenced says so.
//
// Losing every memnode never stops the application either: the epoch is
// retried until a write quorum has it. An epoch larger than the app's log
// ring can never commit (splitting it would make a half-applied state look
// committed): shipping stops, loudly. The staged epoch is kept until the
// quorum has it: on reconnection, if a memnode already committed it (the
// acknowledgement was what got lost) it is not sent again, otherwise it is
// sent again whole. No checkpoint is taken meanwhile; the dirty tracker
// keeps accumulating, so nothing is lost.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "runtime/base/status.h"
#include "runtime/core/missed_writes.h"
#include "runtime/core/runtime_stats.h"
#include "runtime/dirty/staging_buffer.h"
#include "runtime/transport/replica_set.h"
#include "runtime/transport/secret.h"
#include "runtime/transport/transport.h"

namespace respct::core {

struct RegionMapping {
  uint32_t id;
  uintptr_t base;
  size_t size;
};

class Replicator {
 public:
  // How a connection to a memnode is made, with the options of that attempt
  // (reconnections change some). Empty: Transport::Connect to `url` with
  // the secret. The seam exists so that the unit tests can hand in in-memory
  // memnodes with injected faults (tests/support/fake_memnode.h) and drive
  // the reconnect, resend, lost-ack, quorum and catch-up logic below.
  using Connector = std::function<Result<std::unique_ptr<Transport>>(const std::string& url, const ConnectOptions&)>;

  Replicator(ReplicaSet replicas, Secret secret, ConnectOptions options, std::vector<RegionMapping> regions,
             RuntimeStats* stats, Connector connector = {});
  ~Replicator();

  // The first connections: the application must not start unless a write
  // quorum attached. The others are tried again by their threads.
  Status Connect();
  // Of a replica holding the highest committed epoch.
  const AttachInfo& attach_info() const { return attach_info_; }
  // Told on a ship thread of each commit (`epoch` and all before it are
  // committed), and once with `never` true if shipping stopped for good.
  // Set before Start.
  void set_on_commit(std::function<void(uint64_t epoch, bool never)> f) { on_commit_ = std::move(f); }
  // Told on a ship thread, once, when a memnode refused this writer as
  // fenced (a newer writer of the app attached since: this process was
  // believed dead and recovered elsewhere). Nothing this process does from
  // then on can commit. Unset: shipping stops as if failed. Set before Start.
  void set_on_fenced(std::function<void(const Status& why)> f) { on_fenced_ = std::move(f); }
  void Start();
  // Ships what is pending (bounded wait), then stops the threads.
  void Stop(int drain_timeout_ms);

  // No epoch in flight and no replica being caught up (whose source must
  // hold still): the staging buffer may be reused.
  bool Idle() const {
    return !busy_.load(std::memory_order_acquire) && !catch_up_active_.load(std::memory_order_acquire);
  }
  // Idle, not failed and no replica being caught up: the next epoch may be
  // captured. Asked by the epoch coordinator every millisecond while an
  // epoch ships, which is where a commit that waits too long is noticed: a
  // silent link (a cut, a peer gone without a FIN) keeps a connection open
  // and a commit waiting for its acknowledgement up to the reply bound
  // (ConnectOptions::timeout_ms), and TCP may well deliver it in the end,
  // but the user learns of the outage after kSilenceWarnMs, once, not only
  // if it outlasts the bound.
  bool ReadyForCheckpoint();
  // An epoch could never be committed (it needs more log ring than the
  // memnodes gave this app): shipping has stopped for good.
  bool failed() const { return failed_.load(std::memory_order_acquire); }
  // Hands over a captured epoch; `staging` stays untouched until Idle().
  void Submit(uint64_t epoch, const dirty::StagingBuffer* staging, size_t sample_index);
  // Waits until the submitted epoch is committed (true) or the time is up.
  bool WaitIdle(int timeout_ms);
  uint64_t committed_epoch() const { return committed_epoch_.load(std::memory_order_acquire); }

  // A replica as respct-run --stats and the tests see it.
  enum class ReplicaState { kInQuorum, kDown, kOut };
  struct ReplicaStatus {
    std::string url;
    ReplicaState state;
    uint64_t committed_epoch;  // the last this writer knows it holds
    uint64_t catch_ups;        // times it was caught up and rejoined
    uint64_t catch_up_bytes;
  };
  std::vector<ReplicaStatus> replicas() const;
  static const char* StateName(ReplicaState s);

 private:
  // One memnode of the set and its ship thread. Fields after `mu_` are
  // guarded by the Replicator's mutex; the transport belongs to the link's
  // thread (and to Connect, before the threads start).
  struct Link {
    size_t index = 0;
    std::string url;
    std::unique_ptr<Transport> transport;
    bool ring_warm = false;  // link thread only
    // Under mu_.
    ReplicaState state = ReplicaState::kDown;
    uint64_t committed = 0;   // the last epoch it is known to hold
    uint64_t job = 0;         // the epoch to ship; done when committed >= job
    bool appending = false;   // reading the staging buffer
    bool working = false;     // between taking a job and its end
    bool reset_pending = false;  // its first attach resets the app (a --fresh run)
    bool outage_reported = false;
    bool connected_once = false;
    int backoff_ms = 50;
    MissedWrites missed;
    uint64_t catch_ups = 0;
    uint64_t catch_up_bytes = 0;
    std::thread thread;
  };

  void LinkLoop(Link& k);
  // Ships k.job from the staging buffer and commits it; `l` holds mu_ and
  // is released around the network calls.
  void RunJob(Link& k, std::unique_lock<std::mutex>& l);
  Status Ship(Link& k, uint64_t epoch, const dirty::StagingBuffer* staging, uint64_t* ship_ns, uint64_t* commit_ns);
  // Under mu_: k lost its connection or refused an epoch.
  void LinkFailed(Link& k, uint64_t epoch, const Status& st);
  // Under mu_: says once per outage that k is out (warning on stderr).
  void ReportOutageLocked(Link& k, uint64_t epoch, const Status& st);
  // Under mu_: k holds `epoch`; commits it once a write quorum does.
  void LinkHolds(Link& k, uint64_t epoch, uint64_t ship_ns, uint64_t commit_ns);
  void TryCommitLocked(uint64_t ship_ns, uint64_t commit_ns);
  void UpdateIdleLocked();
  // Attaches k (k.transport unset), then joins it to the quorum, catching it
  // up first if it is behind. Called with mu_ held through `l`.
  Status Rejoin(Link& k, std::unique_lock<std::mutex>& l);
  Status CatchUp(Link& k, std::unique_lock<std::mutex>& l);
  // CatchUp once the next capture is held back (catching_up_ is k).
  Status CatchUpHeld(Link& k, std::unique_lock<std::mutex>& l);
  // Reads every byte k missed from `source` and commits it on k as epoch
  // `target`. No lock held; the source is idle (CatchUp's hold).
  Status TransferMissed(Link& k, const Link& source, uint64_t from, uint64_t target, const MissedWrites& missed,
                        uint64_t* bytes);
  void JoinLocked(Link& k, uint64_t epoch);
  bool QuorumLinksIdleLocked() const;
  size_t InQuorumLocked() const;
  // One connection attempt to `url` with `options`, through connector_.
  Result<std::unique_ptr<Transport>> ConnectTransport(const std::string& url, const ConnectOptions& options);
  const RegionMapping* RegionOf(uintptr_t addr, size_t len) const;
  const RegionMapping* RegionById(uint32_t id) const;

  const ReplicaSet replicas_;
  const Secret secret_;
  ConnectOptions options_;
  const std::vector<RegionMapping> regions_;
  RuntimeStats* stats_;
  const Connector connector_;
  AttachInfo attach_info_;
  std::vector<std::unique_ptr<Link>> links_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::atomic<bool> busy_{false};
  bool stopping_ = false;
  bool started_ = false;
  uint64_t pending_epoch_ = 0;
  const dirty::StagingBuffer* pending_staging_ = nullptr;
  size_t pending_sample_ = 0;
  std::atomic<uint64_t> committed_epoch_{0};
  // Under mu_: when the epoch in flight was submitted, and whether its
  // silence was reported (ReadyForCheckpoint, once per epoch).
  uint64_t submitted_ns_ = 0;
  bool silence_reported_ = false;
  // Under mu_: the link being caught up; no capture is taken meanwhile.
  const Link* catching_up_ = nullptr;
  std::atomic<bool> catch_up_active_{false};  // catching_up_ != nullptr, for Idle()
  static constexpr uint64_t kSilenceWarnMs = 2000;
  // Link threads: the transport's ring memory is faulted in a slice at a
  // time, so that an epoch submitted meanwhile waits ~5 ms at most.
  static constexpr uint64_t kPrefaultSlice = 4ull << 20;
  std::atomic<bool> failed_{false};
  std::function<void(uint64_t, bool)> on_commit_;
  std::function<void(const Status&)> on_fenced_;
  bool fenced_ = false;  // under mu_
  // Under mu_: a memnode refused this writer as fenced.
  void FencedLocked(Link& k, const Status& st);
};

}  // namespace respct::core
