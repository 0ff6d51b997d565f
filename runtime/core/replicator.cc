#include "runtime/core/replicator.h"

#include <pthread.h>

#include <chrono>
#include <cstring>

#include "runtime/base/clock.h"
#include "runtime/core/current_thread.h"
#include "runtime/core/program_signals.h"
#include "runtime/core/shim_log.h"
#include "runtime/kernel/kernel_objects.h"

namespace respct::core {
Replicator::Replicator(std::string url, Secret secret, ConnectOptions options, std::vector<RegionMapping> regions,
                       RuntimeStats* stats, Connector connector)
    : url_(std::move(url)), secret_(secret), options_(std::move(options)), regions_(std::move(regions)),
      stats_(stats), connector_(std::move(connector)) {}

Replicator::~Replicator() { Stop(0); }

Result<std::unique_ptr<Transport>> Replicator::ConnectTransport() {
  // One token for every connection of this process: a reconnection after a
  // link cut takes over the session the memnode still holds for the old one
  // (wire::kAttachWriterToken) instead of being refused as busy until TCP
  // keepalive ends it.
  if (!writer_token_drawn_) {
    uint8_t nonce[wire::kNonceSize];
    RESPCT_RETURN_IF_ERROR(Secret::RandomNonce(nonce));
    static_assert(sizeof nonce >= wire::kWriterTokenSize);
    std::memcpy(options_.writer_token.data(), nonce, wire::kWriterTokenSize);
    writer_token_drawn_ = true;
  }
  return kernel::WithRuntimeDescriptors([&] {
    return connector_ ? connector_(options_) : Transport::Connect(url_, secret_, options_);
  });
}

Status Replicator::Connect() {
  auto t = ConnectTransport();
  if (!t.ok()) return t.status();
  transport_ = std::move(t.value());
  attach_info_ = transport_->info();
  committed_epoch_.store(attach_info_.committed_epoch, std::memory_order_release);
  return Status::OK();
}

void Replicator::Start() {
  thread_ = std::thread([this] {
    t_current.in_runtime = 1;  // a runtime thread: internal allocator, never parked
    BlockSignalsInRuntimeThread();
    pthread_setname_np(pthread_self(), "respct-ship");
    Loop();
  });
}

void Replicator::Stop(int drain_timeout_ms) {
  if (!thread_.joinable()) return;
  if (drain_timeout_ms > 0) WaitIdle(drain_timeout_ms);
  {
    std::lock_guard<std::mutex> l(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void Replicator::Submit(uint64_t epoch, const dirty::StagingBuffer* staging, size_t sample_index) {
  {
    std::lock_guard<std::mutex> l(mu_);
    pending_epoch_ = epoch;
    pending_staging_ = staging;
    pending_sample_ = sample_index;
    submitted_ns_ = MonotonicNs();
    busy_.store(true, std::memory_order_release);
  }
  cv_.notify_all();
}

bool Replicator::ReadyForCheckpoint() {
  if (Idle()) return !failed();
  std::lock_guard<std::mutex> l(mu_);
  if (busy_.load() && !outage_reported_ && MonotonicNs() - submitted_ns_ > kSilenceWarnMs * 1'000'000u) {
    ShimLog(kLogWarn,
            "epoch %llu not committed after %llu ms: memnode %s does not answer; the application keeps running, "
            "waiting",
            static_cast<unsigned long long>(pending_epoch_), static_cast<unsigned long long>(kSilenceWarnMs),
            url_.c_str());
    outage_reported_ = true;
  }
  return false;
}

bool Replicator::WaitIdle(int timeout_ms) {
  std::unique_lock<std::mutex> l(mu_);
  return cv_.wait_for(l, std::chrono::milliseconds(timeout_ms), [this] { return !busy_.load(); });
}

const RegionMapping* Replicator::RegionOf(uintptr_t addr, size_t len) const {
  for (const RegionMapping& r : regions_)
    if (addr >= r.base && addr - r.base + len <= r.size) return &r;
  return nullptr;
}

Status Replicator::Ship(uint64_t epoch, uint64_t* ship_ns, uint64_t* commit_ns) {
  const uint64_t t0 = MonotonicNs();
  Status st;
  pending_staging_->ForEach([&](uintptr_t addr, const std::byte* bytes, size_t len) {
    if (!st.ok()) return;
    const RegionMapping* r = RegionOf(addr, len);
    if (r == nullptr) {
      st = Status::Corruption("staged range outside every persisted region");
      return;
    }
    st = transport_->Append(epoch, r->id, addr - r->base, bytes, len);
  });
  RESPCT_RETURN_IF_ERROR(st);
  const uint64_t t1 = MonotonicNs();
  RESPCT_RETURN_IF_ERROR(transport_->Commit(epoch));
  *ship_ns = t1 - t0;
  *commit_ns = MonotonicNs() - t1;
  return Status::OK();
}

Status Replicator::Reconnect() {
  // The app exists now, with the epochs this process committed: a reconnect
  // must neither create it nor, for a --fresh start, reset it again (that
  // would drop every committed epoch and leave the memnode an image made of
  // one epoch's changed lines over zeros).
  options_.create = false;
  options_.reset = false;
  // A busy refusal is retried by the ship loop's own backoff, which Stop()
  // can interrupt; the connect itself must not wait.
  options_.busy_wait_ms = 0;
  auto t = ConnectTransport();
  if (!t.ok()) return t.status();
  transport_ = std::move(t.value());
  ring_warm_ = false;  // a new session has a new ring
  return Status::OK();
}

void Replicator::Loop() {
  int backoff_ms = 50;
  std::unique_lock<std::mutex> l(mu_);
  for (;;) {
    // While idle, the transport's ring memory is faulted in a slice at a
    // time (ring_warm_), so a submitted epoch waits for one slice at most
    // and start-up or a recovery does not wait for it at all. The sink keeps
    // a window ahead of its writes warm, so each shipped epoch may call for
    // more (ring_warm_ is cleared below).
    while (!ring_warm_ && !stopping_ && !busy_.load()) {
      l.unlock();
      ring_warm_ = transport_ == nullptr || transport_->PrefaultRingSome(kPrefaultSlice);
      l.lock();
    }
    cv_.wait(l, [this] { return stopping_ || busy_.load(); });
    if (!busy_.load()) return;  // stopping with nothing to ship
    const uint64_t epoch = pending_epoch_;
    l.unlock();
    Status st;
    if (transport_ == nullptr) st = Reconnect();
    bool done = false;
    if (st.ok() && transport_->info().committed_epoch >= epoch) {
      // Committed before the acknowledgement was lost. Counted like any
      // commit (the report's "epochs committed" is the memnode's count);
      // its ship and commit times are unknown, and 0 leaves them out of
      // the latency percentiles.
      stats_->RecordCommitted(pending_sample_, 0, 0);
      done = true;
    } else if (st.ok()) {
      uint64_t ship_ns = 0, commit_ns = 0;
      st = Ship(epoch, &ship_ns, &commit_ns);
      if (st.ok()) {
        stats_->RecordCommitted(pending_sample_, ship_ns, commit_ns);
        done = true;
      }
    }
    l.lock();
    if (!done && st.code() == Status::Code::kResourceExhausted) {
      ShimLog(kLogError,
              "epoch %llu cannot be committed: %s. Checkpoints stop here; the memnode keeps epoch %llu. "
              "Run the program with a larger --ring-size (RESPCT_RING_SIZE) and --fresh",
              static_cast<unsigned long long>(epoch), st.message().c_str(),
              static_cast<unsigned long long>(committed_epoch_.load()));
      failed_.store(true, std::memory_order_release);
      if (on_commit_) on_commit_(committed_epoch_.load(), true);
      cv_.notify_all();
      cv_.wait(l, [this] { return stopping_; });
      return;
    }
    if (done) {
      // The outage ends with the first epoch committed after it (not with a
      // reconnection, which the memnode may still refuse as busy).
      if (outage_reported_)
        ShimLog(kLogWarn, "memnode %s reachable again: epoch %llu committed", url_.c_str(),
                static_cast<unsigned long long>(epoch));
      outage_reported_ = false;
      committed_epoch_.store(epoch, std::memory_order_release);
      if (on_commit_) on_commit_(epoch, false);
      ring_warm_ = false;
      busy_.store(false, std::memory_order_release);
      backoff_ms = 50;
      cv_.notify_all();
      continue;
    }
    stats_->RecordShipFailure();
    transport_.reset();
    if (!outage_reported_) {
      ShimLog(kLogWarn, "epoch %llu not committed: %s; the application keeps running, retrying",
              static_cast<unsigned long long>(epoch), st.ToString().c_str());
      outage_reported_ = true;
    }
    if (cv_.wait_for(l, std::chrono::milliseconds(backoff_ms), [this] { return stopping_; })) return;
    backoff_ms = backoff_ms * 2 > 2000 ? 2000 : backoff_ms * 2;
  }
}

}  // namespace respct::core
