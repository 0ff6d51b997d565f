// Replicator: ships each captured epoch to the memnode and commits it, on its
// own thread, while the application runs on (at most one epoch in flight:
// the coordinator waits for Idle() before the next capture).
//
// Losing the memnode never stops the application: a failed append or commit
// drops the connection and retries with backoff, warning once per outage. An
// epoch larger than the app's log ring can never commit (splitting it would
// make a half-applied state look committed): shipping stops, loudly. The
// staged epoch is kept until the memnode has it: on reconnection, if the
// memnode already committed it (the acknowledgement was what got lost) it is
// not sent again, otherwise it is sent again whole. No checkpoint is taken
// meanwhile; the dirty tracker keeps accumulating, so nothing is lost.
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
#include "runtime/core/runtime_stats.h"
#include "runtime/dirty/staging_buffer.h"
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
  // How a connection to the memnode is made, with the options of that
  // attempt (Reconnect changes some). Empty: Transport::Connect to `url`
  // with `secret`. The seam exists so that the unit tests can hand in an
  // in-memory memnode with injected faults (tests/support/fake_memnode.h)
  // and drive the reconnect, resend and lost-ack logic below.
  using Connector = std::function<Result<std::unique_ptr<Transport>>(const ConnectOptions&)>;

  Replicator(std::string url, Secret secret, ConnectOptions options, std::vector<RegionMapping> regions,
             RuntimeStats* stats, Connector connector = {});
  ~Replicator();

  // The first connection: failing it means the application must not start.
  Status Connect();
  const AttachInfo& attach_info() const { return attach_info_; }
  // Told on the ship thread of each commit (`epoch` and all before it are
  // committed), and once with `never` true if shipping stopped for good.
  // Set before Start.
  void set_on_commit(std::function<void(uint64_t epoch, bool never)> f) { on_commit_ = std::move(f); }
  void Start();
  // Ships what is pending (bounded wait), then stops the thread.
  void Stop(int drain_timeout_ms);

  bool Idle() const { return !busy_.load(std::memory_order_acquire); }
  // Idle and not failed: the next epoch may be captured. Asked by the epoch
  // coordinator every millisecond while an epoch ships, which is where a
  // commit that waits too long is noticed: a silent link (a cut, a peer
  // gone without a FIN) keeps a connection open and a commit waiting for its
  // acknowledgement up to the reply bound (ConnectOptions::timeout_ms), and
  // TCP may well deliver it in the end, but the user learns of the outage
  // after kSilenceWarnMs, once, not only if it outlasts the bound.
  bool ReadyForCheckpoint();
  // An epoch could never be committed (it needs more log ring than the
  // memnode gave this app): shipping has stopped for good.
  bool failed() const { return failed_.load(std::memory_order_acquire); }
  // Hands over a captured epoch; `staging` stays untouched until Idle().
  void Submit(uint64_t epoch, const dirty::StagingBuffer* staging, size_t sample_index);
  // Waits until the submitted epoch is committed (true) or the time is up.
  bool WaitIdle(int timeout_ms);
  uint64_t committed_epoch() const { return committed_epoch_.load(std::memory_order_acquire); }
  bool connected() const { return transport_ != nullptr; }

 private:
  void Loop();
  Status Ship(uint64_t epoch, uint64_t* ship_ns, uint64_t* commit_ns);
  Status Reconnect();
  // One connection attempt with options_, through connector_.
  Result<std::unique_ptr<Transport>> ConnectTransport();
  const RegionMapping* RegionOf(uintptr_t addr, size_t len) const;

  const std::string url_;
  const Secret secret_;
  ConnectOptions options_;
  bool writer_token_drawn_ = false;  // options_.writer_token, drawn at the first connection
  const std::vector<RegionMapping> regions_;
  RuntimeStats* stats_;
  const Connector connector_;
  AttachInfo attach_info_;
  std::unique_ptr<Transport> transport_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::atomic<bool> busy_{false};
  bool stopping_ = false;
  uint64_t pending_epoch_ = 0;
  const dirty::StagingBuffer* pending_staging_ = nullptr;
  size_t pending_sample_ = 0;
  std::atomic<uint64_t> committed_epoch_{0};
  // Under mu_: when the epoch in flight was submitted, and whether the
  // current outage was reported (once, by whichever notices it first: a
  // failed call on the ship thread or ReadyForCheckpoint).
  uint64_t submitted_ns_ = 0;
  bool outage_reported_ = false;
  static constexpr uint64_t kSilenceWarnMs = 2000;
  // Ship thread only: the transport's ring memory is faulted in. Sliced so
  // that an epoch submitted meanwhile waits ~5 ms at most.
  static constexpr uint64_t kPrefaultSlice = 4ull << 20;
  bool ring_warm_ = false;
  std::atomic<bool> failed_{false};
  std::function<void(uint64_t, bool)> on_commit_;
  std::thread thread_;
};

}  // namespace respct::core
