#include "runtime/core/replicator.h"

#include <pthread.h>

#include <algorithm>
#include <chrono>
#include <cstring>

#include "runtime/base/clock.h"
#include "runtime/base/page.h"
#include "runtime/core/current_thread.h"
#include "runtime/core/layout.h"
#include "runtime/core/meta_region.h"
#include "runtime/core/program_signals.h"
#include "runtime/core/shim_log.h"
#include "runtime/kernel/kernel_objects.h"

namespace respct::core {
namespace {

using ull = unsigned long long;

// A range to copy from a source replica to one being caught up.
struct ImageRange {
  uint32_t region_id;
  uint64_t offset;
  uint64_t length;
};

constexpr size_t kCatchUpChunk = 8u << 20;

}  // namespace

Replicator::Replicator(ReplicaSet replicas, Secret secret, ConnectOptions options, std::vector<RegionMapping> regions,
                       RuntimeStats* stats, Connector connector)
    : replicas_(std::move(replicas)), secret_(secret), options_(std::move(options)), regions_(std::move(regions)),
      stats_(stats), connector_(std::move(connector)) {
  for (size_t i = 0; i < replicas_.size(); ++i) {
    auto k = std::make_unique<Link>();
    k->index = i;
    k->url = replicas_.urls[i];
    links_.push_back(std::move(k));
  }
}

Replicator::~Replicator() { Stop(0); }

Result<std::unique_ptr<Transport>> Replicator::ConnectTransport(const std::string& url,
                                                                const ConnectOptions& options) {
  return kernel::WithRuntimeDescriptors([&] {
    return connector_ ? connector_(url, options) : Transport::Connect(url, secret_, options);
  });
}

Status Replicator::Connect() {
  // One token for every connection of this process: a reconnection after a
  // link cut takes over the session the memnode still holds for the old one
  // (wire::kAttachWriterToken) instead of being refused as busy until TCP
  // keepalive ends it.
  uint8_t nonce[wire::kNonceSize];
  RESPCT_RETURN_IF_ERROR(Secret::RandomNonce(nonce));
  static_assert(sizeof nonce >= wire::kWriterTokenSize);
  std::memcpy(options_.writer_token.data(), nonce, wire::kWriterTokenSize);
  // The generation: when this process first attached. A recovery of this
  // app, elsewhere or later, starts later and so fences this process.
  options_.writer_generation = UnixNs();

  std::vector<Status> failures(links_.size());
  size_t attached = 0;
  uint64_t highest = 0;
  for (auto& k : links_) {
    auto t = ConnectTransport(k->url, options_);
    k->connected_once = t.ok();
    if (!t.ok()) {
      if (t.status().IsFenced()) {
        for (auto& other : links_) other->transport.reset();
        return t.status().Annotate("memnode " + k->url);
      }
      failures[k->index] = t.status();
      k->reset_pending = options_.reset;
      continue;
    }
    k->transport = std::move(t.value());
    ++attached;
    highest = std::max(highest, k->transport->info().committed_epoch);
  }
  if (attached < replicas_.write_quorum()) {
    for (auto& k : links_) k->transport.reset();
    std::string why;
    for (size_t i = 0; i < links_.size(); ++i)
      if (!failures[i].ok()) why += (why.empty() ? "" : "; ") + (links_.size() > 1 ? links_[i]->url + ": " : "") +
                                    failures[i].ToString();
    if (links_.size() == 1) return failures[0];
    return Status::Unavailable(std::to_string(attached) + " of " + std::to_string(links_.size()) +
                               " memnodes attached, a write quorum is " +
                               std::to_string(replicas_.write_quorum()) + ": " + why);
  }
  // The replicas at the highest epoch form the quorum; the others (behind,
  // or unreachable) are caught up by their threads.
  for (auto& k : links_) {
    if (k->transport == nullptr) continue;
    k->committed = k->transport->info().committed_epoch;
    if (k->committed == highest) {
      k->state = ReplicaState::kInQuorum;
      k->missed.Reset(highest);
      if (attach_info_.regions.empty()) attach_info_ = k->transport->info();
    }
  }
  committed_epoch_.store(highest, std::memory_order_release);
  return Status::OK();
}

void Replicator::Start() {
  std::lock_guard<std::mutex> l(mu_);
  started_ = true;
  for (auto& link : links_) {
    Link* k = link.get();
    k->thread = std::thread([this, k] {
      t_current.in_runtime = 1;  // a runtime thread: internal allocator, never parked
      BlockSignalsInRuntimeThread();
      pthread_setname_np(pthread_self(), "respct-ship");
      LinkLoop(*k);
    });
  }
}

void Replicator::Stop(int drain_timeout_ms) {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (!started_) return;
  }
  if (drain_timeout_ms > 0) WaitIdle(drain_timeout_ms);
  {
    std::lock_guard<std::mutex> l(mu_);
    stopping_ = true;
    started_ = false;
  }
  cv_.notify_all();
  for (auto& k : links_)
    if (k->thread.joinable()) k->thread.join();
}

void Replicator::Submit(uint64_t epoch, const dirty::StagingBuffer* staging, size_t sample_index) {
  {
    std::lock_guard<std::mutex> l(mu_);
    pending_epoch_ = epoch;
    pending_staging_ = staging;
    pending_sample_ = sample_index;
    submitted_ns_ = MonotonicNs();
    silence_reported_ = false;
    busy_.store(true, std::memory_order_release);
    for (auto& k : links_) {
      if (k->state != ReplicaState::kInQuorum) continue;
      k->job = epoch;
      k->appending = true;
    }
  }
  cv_.notify_all();
}

bool Replicator::ReadyForCheckpoint() {
  std::lock_guard<std::mutex> l(mu_);
  if (catching_up_ != nullptr) return false;
  if (Idle()) return !failed();
  if (!silence_reported_ && MonotonicNs() - submitted_ns_ > kSilenceWarnMs * 1'000'000u) {
    std::string silent;
    for (auto& k : links_) {
      if (k->committed >= pending_epoch_) continue;
      silent += (silent.empty() ? "" : ", ") + k->url;
      k->outage_reported = true;
    }
    if (links_.size() == 1)
      ShimLog(kLogWarn, "epoch %llu not committed after %llu ms: memnode %s does not answer; the application keeps "
              "running, waiting", static_cast<ull>(pending_epoch_), static_cast<ull>(kSilenceWarnMs), silent.c_str());
    else
      ShimLog(kLogWarn, "epoch %llu not committed after %llu ms: a write quorum is %zu memnodes and %s do not answer; "
              "the application keeps running, waiting", static_cast<ull>(pending_epoch_),
              static_cast<ull>(kSilenceWarnMs), replicas_.write_quorum(), silent.c_str());
    silence_reported_ = true;
  }
  return false;
}

bool Replicator::WaitIdle(int timeout_ms) {
  std::unique_lock<std::mutex> l(mu_);
  return cv_.wait_for(l, std::chrono::milliseconds(timeout_ms), [this] { return Idle(); });
}

std::vector<Replicator::ReplicaStatus> Replicator::replicas() const {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<ReplicaStatus> out;
  for (const auto& k : links_) out.push_back({k->url, k->state, k->committed, k->catch_ups, k->catch_up_bytes});
  return out;
}

const char* Replicator::StateName(ReplicaState s) {
  switch (s) {
    case ReplicaState::kInQuorum:
      return "in quorum";
    case ReplicaState::kDown:
      return "down";
    case ReplicaState::kOut:
      return "out";
  }
  return "?";
}

const RegionMapping* Replicator::RegionOf(uintptr_t addr, size_t len) const {
  for (const RegionMapping& r : regions_)
    if (addr >= r.base && addr - r.base + len <= r.size) return &r;
  return nullptr;
}

const RegionMapping* Replicator::RegionById(uint32_t id) const {
  for (const RegionMapping& r : regions_)
    if (r.id == id) return &r;
  return nullptr;
}

size_t Replicator::InQuorumLocked() const {
  size_t n = 0;
  for (const auto& k : links_) n += k->state == ReplicaState::kInQuorum ? 1 : 0;
  return n;
}

bool Replicator::QuorumLinksIdleLocked() const {
  for (const auto& k : links_)
    if (k->state == ReplicaState::kInQuorum && (k->working || k->job > k->committed)) return false;
  return true;
}

void Replicator::UpdateIdleLocked() {
  if (!busy_.load() || committed_epoch_.load() < pending_epoch_) return;
  for (const auto& k : links_)
    if (k->appending) return;
  busy_.store(false, std::memory_order_release);
  cv_.notify_all();
}

void Replicator::TryCommitLocked(uint64_t ship_ns, uint64_t commit_ns) {
  const uint64_t epoch = pending_epoch_;
  if (!busy_.load() || committed_epoch_.load() >= epoch) return;
  size_t holding = 0;
  for (const auto& k : links_) holding += k->state == ReplicaState::kInQuorum && k->committed >= epoch ? 1 : 0;
  if (holding < replicas_.write_quorum()) return;
  // What the replicas outside the quorum miss of this epoch: read now, the
  // staging buffer is intact until Idle.
  for (auto& k : links_) {
    if (k->state != ReplicaState::kDown || !k->missed.valid()) continue;
    k->missed.AddStaged(*pending_staging_);
  }
  // Counted like any commit (the report's "epochs committed" is the
  // memnodes' count); the ship and commit times of an epoch found committed
  // on a reconnection are unknown, and 0 leaves them out of the percentiles.
  stats_->RecordCommitted(pending_sample_, ship_ns, commit_ns);
  committed_epoch_.store(epoch, std::memory_order_release);
  if (on_commit_) on_commit_(epoch, false);
  UpdateIdleLocked();
}

void Replicator::LinkHolds(Link& k, uint64_t epoch, uint64_t ship_ns, uint64_t commit_ns) {
  k.committed = epoch;
  k.backoff_ms = 50;
  if (k.outage_reported) {
    // The outage ends with the first epoch this memnode holds after it (not
    // with a reconnection, which the memnode may still refuse as busy).
    ShimLog(kLogWarn, "memnode %s reachable again: epoch %llu committed", k.url.c_str(), static_cast<ull>(epoch));
    k.outage_reported = false;
  }
  if (epoch == pending_epoch_) TryCommitLocked(ship_ns, commit_ns);
  cv_.notify_all();
}

void Replicator::FencedLocked(Link& k, const Status& st) {
  k.state = ReplicaState::kOut;
  k.transport.reset();
  for (auto& other : links_) other->state = ReplicaState::kOut;
  if (fenced_) return;
  fenced_ = true;
  failed_.store(true, std::memory_order_release);
  const Status why = st.Annotate("memnode " + k.url);
  if (on_fenced_) {
    on_fenced_(why);
  } else {
    ShimLog(kLogError, "%s: this writer is fenced, shipping stops", why.ToString().c_str());
    if (on_commit_) on_commit_(committed_epoch_.load(), true);
  }
  cv_.notify_all();
}

void Replicator::ReportOutageLocked(Link& k, uint64_t epoch, const Status& st) {
  if (k.outage_reported) return;
  if (links_.size() == 1)
    ShimLog(kLogWarn, "epoch %llu not committed: %s; the application keeps running, retrying",
            static_cast<ull>(epoch), st.ToString().c_str());
  else
    ShimLog(kLogWarn, "memnode %s out of the write quorum: %s; %zu of %zu replicas keep committing, retrying it "
            "in the background", k.url.c_str(), st.ToString().c_str(), InQuorumLocked(), links_.size());
  k.outage_reported = true;
}

void Replicator::LinkFailed(Link& k, uint64_t epoch, const Status& st) {
  if (st.IsFenced()) {
    FencedLocked(k, st);
    return;
  }
  const bool was_in_quorum = k.state == ReplicaState::kInQuorum;
  k.transport.reset();
  k.appending = false;
  k.working = false;
  k.job = 0;
  k.ring_warm = false;  // a new session has a new ring
  if (st.code() == Status::Code::kResourceExhausted) {
    k.state = ReplicaState::kOut;
    size_t usable = 0;
    for (const auto& other : links_) usable += other->state != ReplicaState::kOut ? 1 : 0;
    if (usable < replicas_.write_quorum() && !failed_.load()) {
      ShimLog(kLogError,
              "epoch %llu cannot be committed: %s. Checkpoints stop here; the memnode keeps epoch %llu. "
              "Run the program with a larger --ring-size (RESPCT_RING_SIZE) and --fresh",
              static_cast<ull>(epoch), st.message().c_str(), static_cast<ull>(committed_epoch_.load()));
      failed_.store(true, std::memory_order_release);
      if (on_commit_) on_commit_(committed_epoch_.load(), true);
    } else if (!failed_.load()) {
      ShimLog(kLogError, "memnode %s cannot take epoch %llu: %s. It is left out of the replica set",
              k.url.c_str(), static_cast<ull>(epoch), st.message().c_str());
    }
    UpdateIdleLocked();
    cv_.notify_all();
    return;
  }
  k.state = ReplicaState::kDown;
  stats_->RecordShipFailure();
  if (was_in_quorum) {
    // What it misses from here on is noted at each commit; the epoch it
    // failed, if already committed, only while its bytes are still staged.
    k.missed.Reset(k.committed);
    if (epoch > k.committed && committed_epoch_.load() >= epoch) {
      if (busy_.load() && pending_epoch_ == epoch)
        k.missed.AddStaged(*pending_staging_);
      else
        k.missed.Invalidate();
    }
  }
  ReportOutageLocked(k, epoch, st);
  UpdateIdleLocked();
  cv_.notify_all();
}

Status Replicator::Ship(Link& k, uint64_t epoch, const dirty::StagingBuffer* staging, uint64_t* ship_ns,
                        uint64_t* commit_ns) {
  const uint64_t t0 = MonotonicNs();
  Status st;
  staging->ForEach([&](uintptr_t addr, const std::byte* bytes, size_t len) {
    if (!st.ok()) return;
    const RegionMapping* r = RegionOf(addr, len);
    if (r == nullptr) {
      st = Status::Corruption("staged range outside every persisted region");
      return;
    }
    st = k.transport->Append(epoch, r->id, addr - r->base, bytes, len);
  });
  {
    // The staging buffer is no longer read by this link.
    std::lock_guard<std::mutex> l(mu_);
    k.appending = false;
    if (st.ok()) UpdateIdleLocked();
  }
  RESPCT_RETURN_IF_ERROR(st);
  const uint64_t t1 = MonotonicNs();
  RESPCT_RETURN_IF_ERROR(k.transport->Commit(epoch));
  *ship_ns = t1 - t0;
  *commit_ns = MonotonicNs() - t1;
  return Status::OK();
}

void Replicator::RunJob(Link& k, std::unique_lock<std::mutex>& l) {
  const uint64_t epoch = k.job;
  const dirty::StagingBuffer* staging = pending_staging_;
  k.working = true;
  l.unlock();
  uint64_t ship_ns = 0, commit_ns = 0;
  Status st = Ship(k, epoch, staging, &ship_ns, &commit_ns);
  l.lock();
  k.working = false;
  if (stopping_ && !st.ok()) return;
  if (st.ok())
    LinkHolds(k, epoch, ship_ns, commit_ns);
  else
    LinkFailed(k, epoch, st);
}

void Replicator::JoinLocked(Link& k, uint64_t epoch) {
  k.state = ReplicaState::kInQuorum;
  k.missed.Reset(epoch);
  // It takes the epoch in flight if it does not hold it yet: the staging
  // buffer is intact while the Replicator is busy.
  if (busy_.load() && pending_epoch_ > epoch && committed_epoch_.load() < pending_epoch_) {
    k.job = pending_epoch_;
    k.appending = true;
    k.committed = epoch;
    cv_.notify_all();
    return;
  }
  LinkHolds(k, epoch, 0, 0);
}

Status Replicator::Rejoin(Link& k, std::unique_lock<std::mutex>& l) {
  if (k.transport == nullptr) {
    ConnectOptions o = options_;
    // The app exists now, with the epochs this process committed: a
    // reconnection must not reset it again (that would drop every committed
    // epoch) unless this memnode never attached before in a --fresh run.
    // Creating it is safe: an empty app is caught up like any replica behind.
    o.create = true;
    o.reset = k.reset_pending;
    // A take-over (respct-recover --take-over) is for the first attach: on a
    // reconnection a writer attached there is this process (its token) or
    // one that fenced it.
    o.take_over = o.take_over && !k.connected_once;
    // A busy refusal is retried by this loop's own backoff, which Stop()
    // can interrupt; the connect itself must not wait.
    o.busy_wait_ms = 0;
    l.unlock();
    auto t = ConnectTransport(k.url, o);
    l.lock();
    if (!t.ok()) return t.status();
    k.transport = std::move(t.value());
    k.reset_pending = false;
    k.connected_once = true;
    k.ring_warm = false;
  }
  return CatchUp(k, l);
}

Status Replicator::CatchUp(Link& k, std::unique_lock<std::mutex>& l) {
  // One replica at a time. It holds back the next capture first, then waits
  // for the epoch being shipped to end: the replicas in the quorum must hold
  // still while their image is read, and waiting for a moment when none
  // ships without holding the captures back would starve (a new epoch comes
  // every few ms, and the coordinator takes it before this thread wakes).
  cv_.wait(l, [&] { return stopping_ || catching_up_ == nullptr; });
  if (stopping_) return Status::Unavailable("stopping");
  catching_up_ = &k;
  catch_up_active_.store(true, std::memory_order_release);
  Status st = CatchUpHeld(k, l);
  catching_up_ = nullptr;
  catch_up_active_.store(false, std::memory_order_release);
  cv_.notify_all();
  return st;
}

Status Replicator::CatchUpHeld(Link& k, std::unique_lock<std::mutex>& l) {
  cv_.wait(l, [&] { return stopping_ || QuorumLinksIdleLocked(); });
  if (stopping_) return Status::Unavailable("stopping");
  const uint64_t held = k.transport->info().committed_epoch;
  const Link* source = nullptr;
  for (const auto& other : links_)
    if (other->state == ReplicaState::kInQuorum && (source == nullptr || other->committed > source->committed))
      source = other.get();
  const uint64_t target = source != nullptr ? source->committed : committed_epoch_.load();
  if (held == target || (held > target && busy_.load() && held == pending_epoch_)) {
    // Up to date, or it committed the epoch in flight before its
    // acknowledgement was lost: then it counts for that epoch, not sent again.
    JoinLocked(k, held);
    return Status::OK();
  }
  if (held > target) {
    k.state = ReplicaState::kOut;
    k.transport.reset();
    ShimLog(kLogError,
            "memnode %s holds epoch %llu of app '%s', which this writer never committed (it is at %llu): a diverged "
            "replica, left out of the replica set",
            k.url.c_str(), static_cast<ull>(held), options_.app.c_str(), static_cast<ull>(target));
    return Status::OK();
  }
  if (source == nullptr)
    return Status::Unavailable("it holds epoch " + std::to_string(held) + " of " + std::to_string(target) +
                               " and no replica in the write quorum can catch it up");
  MissedWrites missed;
  if (k.missed.valid() && k.missed.since() <= held) {
    missed = k.missed;
    // The source may hold the epoch in flight, not yet committed by a
    // quorum and so not in the set yet; its bytes are still staged.
    if (busy_.load() && target == pending_epoch_ && committed_epoch_.load() < pending_epoch_)
      missed.AddStaged(*pending_staging_);
  }
  l.unlock();
  uint64_t bytes = 0;
  Status st = TransferMissed(k, *source, held, target, missed, &bytes);
  l.lock();
  if (st.code() == Status::Code::kResourceExhausted) {
    // Retrying cannot help: the catch-up is one epoch, and it is too big.
    k.state = ReplicaState::kOut;
    k.transport.reset();
    ShimLog(kLogError,
            "memnode %s cannot be caught up from epoch %llu to %llu: %s. It is left out of the replica set; start "
            "the program with a larger --ring-size (RESPCT_RING_SIZE) and --fresh to replicate onto it",
            k.url.c_str(), static_cast<ull>(held), static_cast<ull>(target), st.message().c_str());
    return Status::OK();
  }
  if (!st.ok()) return st.Annotate("catching up from epoch " + std::to_string(held) + " to " + std::to_string(target));
  ++k.catch_ups;
  k.catch_up_bytes += bytes;
  if (links_.size() > 1)
    ShimLog(kLogWarn, "memnode %s caught up from epoch %llu to %llu (%llu KiB from %s): back in the write quorum",
            k.url.c_str(), static_cast<ull>(held), static_cast<ull>(target), static_cast<ull>(bytes >> 10),
            source->url.c_str());
  k.outage_reported = false;
  JoinLocked(k, target);
  return Status::OK();
}

Status Replicator::TransferMissed(Link& k, const Link& source, uint64_t from, uint64_t target,
                                  const MissedWrites& missed, uint64_t* bytes) {
  ConnectOptions reader;
  reader.app = options_.app;
  reader.timeout_ms = options_.timeout_ms;
  auto src = ConnectTransport(source.url, reader);
  if (!src.ok()) return src.status().Annotate("reading memnode " + source.url);
  Transport* s = src.value().get();

  std::vector<ImageRange> ranges;
  if (missed.valid()) {
    for (const auto& [begin, end] : missed.ranges()) {
      const RegionMapping* r = RegionOf(begin, end - begin);
      if (r == nullptr) return Status::Corruption("missed range outside every persisted region");
      ranges.push_back({r->id, begin - r->base, end - begin});
    }
  } else {
    // The source's log: which ranges the missed epochs wrote, while its ring
    // still holds them all.
    bool logged = from > 0;
    for (uint64_t e = from; logged && e < target;) {
      const uint64_t to = std::min<uint64_t>(target, e + wire::kMaxEpochsPerQuery);
      auto w = s->ListWrites("", e, to);
      if (!w.ok()) return w.status().Annotate("asking memnode " + source.url + " what epochs wrote");
      for (const wire::EpochWrites& ew : w.value()) {
        if (ew.status != wire::WritesStatus::kPresent) logged = false;
        for (const wire::WrittenRange& wr : ew.ranges) ranges.push_back({wr.region_id, wr.offset, wr.length});
      }
      e = to;
    }
    if (!logged) {
      // The whole image in use: every region up to what the meta header
      // says was ever written of it.
      ranges.clear();
      const RegionMapping* meta = RegionById(kMetaRegion);
      if (meta == nullptr) return Status::FailedPrecondition("no meta region to size the image by");
      MetaHeader m;
      RESPCT_RETURN_IF_ERROR(s->ReadImage(kMetaRegion, 0, &m, sizeof m));
      for (const RegionMapping& r : regions_)
        if (const uint64_t used = RegionBytesInUse(m, r.id, r.size); used != 0) ranges.push_back({r.id, 0, used});
    }
  }
  std::vector<uint8_t> buf;
  for (const ImageRange& r : ranges) {
    for (uint64_t done = 0; done < r.length;) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(kCatchUpChunk, r.length - done));
      buf.resize(n);
      RESPCT_RETURN_IF_ERROR(s->ReadImage(r.region_id, r.offset + done, buf.data(), n)
                                 .Annotate("reading memnode " + source.url));
      RESPCT_RETURN_IF_ERROR(k.transport->Append(target, r.region_id, r.offset + done, buf.data(), n));
      done += n;
      *bytes += n;
    }
  }
  return k.transport->Commit(target);
}

void Replicator::LinkLoop(Link& k) {
  std::unique_lock<std::mutex> l(mu_);
  for (;;) {
    if (stopping_) return;
    if (k.state == ReplicaState::kOut) {
      cv_.wait(l, [this] { return stopping_; });
      return;
    }
    if (k.state == ReplicaState::kInQuorum) {
      if (k.job > k.committed) {
        RunJob(k, l);
        if (k.state == ReplicaState::kDown && !stopping_) {
          if (cv_.wait_for(l, std::chrono::milliseconds(k.backoff_ms), [this] { return stopping_; })) return;
          k.backoff_ms = std::min(k.backoff_ms * 2, 2000);
        }
        continue;
      }
      // While idle, the ring memory is faulted in a slice at a time, so a
      // submitted epoch waits for one slice at most and start-up or a
      // recovery does not wait for it at all. The sink keeps a window ahead
      // of its writes warm, so each shipped epoch may call for more.
      if (!k.ring_warm) {
        l.unlock();
        const bool warm = k.transport->PrefaultRingSome(kPrefaultSlice);
        l.lock();
        k.ring_warm = warm;
        continue;
      }
      cv_.wait(l, [&] { return stopping_ || k.job > k.committed || k.state != ReplicaState::kInQuorum; });
      if (k.job > k.committed) k.ring_warm = false;
      continue;
    }
    const Status st = Rejoin(k, l);
    if (st.ok() || stopping_) continue;
    if (st.IsFenced()) {
      FencedLocked(k, st);
      continue;
    }
    if (k.state == ReplicaState::kOut) continue;
    k.transport.reset();
    stats_->RecordShipFailure();
    ReportOutageLocked(k, pending_epoch_, st);
    if (cv_.wait_for(l, std::chrono::milliseconds(k.backoff_ms), [this] { return stopping_; })) return;
    k.backoff_ms = std::min(k.backoff_ms * 2, 2000);
  }
}

}  // namespace respct::core
