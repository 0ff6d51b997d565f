#include "tests/support/fake_memnode.h"

#include <algorithm>
#include <cstring>
#include <thread>

#include "runtime/base/clock.h"
#include "runtime/wire/record.h"
#include "tests/support/fake_transport.h"

namespace respct::testing {
namespace {

// Ring bytes `len` payload bytes take as the real client lays them out:
// records of at most kMaxRecordPayload bytes, each with its header.
uint64_t RingFootprint(size_t len) {
  uint64_t bytes = 0;
  for (size_t done = 0; done < len;) {
    const size_t n = std::min<size_t>(len - done, wire::kMaxRecordPayload);
    bytes += wire::RecordFootprint(n);
    done += n;
  }
  return bytes;
}

bool SameRegions(const std::vector<RegionSpec>& a, const std::vector<RegionSpec>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i].id != b[i].id || a[i].size != b[i].size || a[i].base_addr != b[i].base_addr) return false;
  return true;
}

}  // namespace

std::shared_ptr<FakeMemnode> FakeMemnode::Create(std::string app, uint64_t default_ring) {
  return std::shared_ptr<FakeMemnode>(new FakeMemnode(std::move(app), default_ring));
}

// ---- faults ----

void FakeMemnode::FailNext(Op op, int count) {
  std::lock_guard<std::mutex> l(mu_);
  fail_next_[op] = count;
}

void FakeMemnode::Delay(Op op, int ms) {
  std::lock_guard<std::mutex> l(mu_);
  delay_ms_[op] = ms;
}

void FakeMemnode::LoseNextCommitAck() {
  std::lock_guard<std::mutex> l(mu_);
  lose_next_ack_ = true;
}

void FakeMemnode::DisconnectAfterAppends(int k) {
  std::lock_guard<std::mutex> l(mu_);
  appends_before_disconnect_ = k;
}

void FakeMemnode::CorruptNextRead(Corruption kind) {
  std::lock_guard<std::mutex> l(mu_);
  corrupt_next_read_ = true;
  corruption_ = kind;
}

void FakeMemnode::SetReachable(bool reachable) {
  std::lock_guard<std::mutex> l(mu_);
  reachable_ = reachable;
}

// ---- observations ----

uint64_t FakeMemnode::committed_epoch() const {
  std::lock_guard<std::mutex> l(mu_);
  return committed_epoch_;
}

std::vector<uint8_t> FakeMemnode::ImageBytes(uint32_t region_id, uint64_t offset, size_t len) const {
  std::lock_guard<std::mutex> l(mu_);
  std::vector<uint8_t> out(len, 0);
  auto it = image_.find(region_id);
  if (it != image_.end() && offset < it->second.size()) {
    const size_t n = std::min<uint64_t>(len, it->second.size() - offset);
    std::memcpy(out.data(), it->second.data() + offset, n);
  }
  return out;
}

std::vector<FakeMemnode::Record> FakeMemnode::RecordsOf(uint64_t epoch) const {
  std::lock_guard<std::mutex> l(mu_);
  auto it = history_.find(epoch);
  return it == history_.end() ? std::vector<Record>{} : it->second.records;
}

uint64_t FakeMemnode::AppendsReceived(uint64_t epoch) const {
  std::lock_guard<std::mutex> l(mu_);
  auto it = appends_received_.find(epoch);
  return it == appends_received_.end() ? 0 : it->second;
}

uint64_t FakeMemnode::CommitsOf(uint64_t epoch) const {
  std::lock_guard<std::mutex> l(mu_);
  auto it = commits_of_.find(epoch);
  return it == commits_of_.end() ? 0 : it->second;
}

std::vector<uint64_t> FakeMemnode::CommitOrder() const {
  std::lock_guard<std::mutex> l(mu_);
  return commit_order_;
}

uint64_t FakeMemnode::connections() const {
  std::lock_guard<std::mutex> l(mu_);
  return connections_;
}

uint64_t FakeMemnode::CallsStarted(Op op) const {
  std::lock_guard<std::mutex> l(mu_);
  auto it = calls_started_.find(op);
  return it == calls_started_.end() ? 0 : it->second;
}

bool FakeMemnode::WaitForCalls(Op op, uint64_t n, std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> l(mu_);
  return calls_cv_.wait_for(l, timeout, [&] {
    auto it = calls_started_.find(op);
    return it != calls_started_.end() && it->second >= n;
  });
}

std::vector<std::string> FakeMemnode::refusals() const {
  std::lock_guard<std::mutex> l(mu_);
  return refusals_;
}

// ---- helpers ----

void FakeMemnode::Enter(Op op) {
  int delay = 0;
  {
    std::lock_guard<std::mutex> l(mu_);
    ++calls_started_[op];
    delay = delay_ms_[op];
  }
  calls_cv_.notify_all();
  if (delay > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delay));
}

bool FakeMemnode::TakeFault(Op op) {
  int& n = fail_next_[op];
  if (n <= 0) return false;
  --n;
  return true;
}

Status FakeMemnode::Refuse(Status st) {
  refusals_.push_back(st.ToString());
  return st;
}

Status FakeMemnode::Kill(uint64_t conn, Status st) {
  auto it = conns_.find(conn);
  if (it != conns_.end()) it->second.alive = false;
  if (writer_conn_ == conn) writer_conn_ = 0;
  // The memnode drops the records of an epoch whose writer went away.
  if (open_.conn == conn) open_ = OpenEpoch{};
  return st;
}

Result<FakeMemnode::Connection*> FakeMemnode::Usable(uint64_t conn) {
  auto it = conns_.find(conn);
  if (it == conns_.end()) return Refuse(Status::FailedPrecondition("call on a closed connection"));
  // A ClientSession refuses calls after a failure the same way; a client
  // that makes one has not noticed that it must reconnect.
  if (!it->second.alive)
    return Refuse(Status::Unavailable("connection to the fake memnode is closed after an earlier error: reconnect"));
  return &it->second;
}

Result<FakeMemnode::Connection*> FakeMemnode::UsableWriter(uint64_t conn) {
  auto c = Usable(conn);
  if (!c.ok()) return c;
  if (!(*c)->writer) return Refuse(Status::FailedPrecondition("this session is not the app's writer"));
  return c;
}

Status FakeMemnode::CheckRange(uint32_t region_id, uint64_t offset, uint64_t len) const {
  for (const RegionSpec& r : regions_) {
    if (r.id != region_id) continue;
    if (offset > r.size || len > r.size - offset)
      return Status::InvalidArgument("range [" + std::to_string(offset) + ", +" + std::to_string(len) +
                                     ") lies outside region " + std::to_string(region_id));
    return Status::OK();
  }
  return Status::InvalidArgument("no region " + std::to_string(region_id) + " in this app");
}

Status FakeMemnode::CheckQueriedApp(const Connection& c, std::string_view app) const {
  if (!c.admin && !app.empty() && app != app_)
    return Status::PermissionDenied("a session of app '" + app_ + "' cannot query app '" + std::string(app) + "'");
  if ((c.admin && app != app_) || !exists_) return Status::NotFound("no app '" + std::string(app) + "' in the pool");
  return Status::OK();
}

// ---- the connection side ----

Result<std::unique_ptr<Transport>> FakeMemnode::Connect(const ConnectOptions& options) {
  Enter(Op::kConnect);
  std::lock_guard<std::mutex> l(mu_);
  if (!reachable_) return Status::Unavailable("fake memnode unreachable");
  if (TakeFault(Op::kConnect)) return Status::IOError("fake memnode: connect lost (injected)");
  Connection c;
  c.admin = options.app.empty();
  AttachInfo info;
  if (!c.admin) {
    if (options.app != app_ || (!exists_ && !options.create))
      return Status::NotFound("no app '" + options.app + "' in the pool");
    if (!exists_) {
      const uint64_t ring = options.ring_capacity != 0 ? options.ring_capacity : default_ring_;
      // A client refuses a smaller ring at attach (ClientAttach).
      if (ring < wire::kMinRingCapacity)
        return Status::InvalidArgument("ring of " + std::to_string(ring) + " bytes is below the minimum");
      exists_ = true;
      regions_ = options.regions;
      ring_capacity_ = ring;
    } else if (!options.regions.empty() && !SameRegions(options.regions, regions_)) {
      return Status::FailedPrecondition("app '" + app_ + "' exists with other regions");
    }
    if (options.writer) {
      // Writer generations, as App::AttachWriter keeps them.
      const uint64_t g = options.writer_generation;
      if (g != 0 && g < generation_)
        return Status::Fenced("app '" + app_ + "' was taken over by writer generation " + std::to_string(generation_));
      if (g > generation_ && writer_conn_ != 0 && options.take_over) {
        generation_ = g;
        (void)Kill(writer_conn_, Status::OK());  // the older writer's session ends
      }
      if (g > generation_ && writer_conn_ == 0) generation_ = g;
      if (writer_conn_ != 0) {
        const auto zero = std::array<uint8_t, wire::kWriterTokenSize>{};
        if (options.writer_token == zero || options.writer_token != conns_[writer_conn_].token)
          return Status::Busy("app '" + app_ + "' already has a writer");
        // The same writer reconnecting: its old session ends.
        (void)Kill(writer_conn_, Status::OK());
      }
      if (options.reset) {
        image_.clear();
        history_.clear();
        committed_epoch_ = 0;
      }
      c.writer = true;
      c.token = options.writer_token;
      open_ = OpenEpoch{};
    }
    info.app_id = 1;
    info.committed_epoch = committed_epoch_;
    info.applied_epoch = committed_epoch_;
    info.ring_capacity = ring_capacity_;
    info.regions = regions_;
  }
  const uint64_t conn = next_conn_++;
  conns_[conn] = c;
  if (c.writer) writer_conn_ = conn;
  ++connections_;
  return std::unique_ptr<Transport>(new FakeTransport(shared_from_this(), conn, info));
}

Status FakeMemnode::Append(uint64_t conn, uint64_t epoch, uint32_t region_id, uint64_t offset, const void* data,
                           size_t len) {
  Enter(Op::kAppend);
  std::lock_guard<std::mutex> l(mu_);
  auto c = UsableWriter(conn);
  if (!c.ok()) return c.status();
  if (Status st = CheckRange(region_id, offset, len); !st.ok()) return Refuse(st);
  if (len == 0) return Status::OK();
  if (epoch <= committed_epoch_ || (open_.conn == conn && open_.epoch != 0 && open_.epoch != epoch))
    return Refuse(Status::FailedPrecondition("epoch " + std::to_string(epoch) + " does not follow committed epoch " +
                                             std::to_string(committed_epoch_)));
  if (TakeFault(Op::kAppend)) return Kill(conn, Status::IOError("fake memnode: append lost (injected)"));
  if (appends_before_disconnect_ == 0) {
    appends_before_disconnect_ = -1;
    return Kill(conn, Status::Unavailable("fake memnode: connection lost mid-epoch (injected)"));
  }
  if (appends_before_disconnect_ > 0) --appends_before_disconnect_;
  if (open_.conn != conn || open_.epoch != epoch) open_ = OpenEpoch{conn, epoch, 0, {}};
  const uint64_t need = open_.ring_bytes + RingFootprint(len) + wire::kCommitFootprint;
  if (need > ring_capacity_) {
    open_ = OpenEpoch{};
    return Status::ResourceExhausted("epoch of " + std::to_string(need) + " bytes does not fit the ring of " +
                                     std::to_string(ring_capacity_) + " bytes");
  }
  open_.ring_bytes += RingFootprint(len);
  const auto* bytes = static_cast<const uint8_t*>(data);
  open_.records.push_back(Record{region_id, offset, std::vector<uint8_t>(bytes, bytes + len)});
  ++appends_received_[epoch];
  return Status::OK();
}

Status FakeMemnode::Commit(uint64_t conn, uint64_t epoch) {
  Enter(Op::kCommit);
  std::lock_guard<std::mutex> l(mu_);
  auto c = UsableWriter(conn);
  if (!c.ok()) return c.status();
  if (TakeFault(Op::kCommit)) return Kill(conn, Status::IOError("fake memnode: commit lost (injected)"));
  if (epoch <= committed_epoch_)
    return Refuse(Status::FailedPrecondition("commit of epoch " + std::to_string(epoch) +
                                             " does not follow committed epoch " + std::to_string(committed_epoch_)));
  if (open_.conn != conn || open_.epoch != epoch) open_ = OpenEpoch{conn, epoch, 0, {}};  // an empty epoch
  // Applied whole, under the lock: a reader sees the image before or after
  // the epoch, never a part of it.
  Committed done;
  done.info.epoch = epoch;
  done.info.commit_unix_ns = UnixNs();
  done.info.first_pos = ring_tail_;
  done.info.end_pos = ring_tail_ + open_.ring_bytes + wire::kCommitFootprint;
  for (const Record& r : open_.records) {
    std::vector<uint8_t>& img = image_[r.region_id];
    if (img.size() < r.offset + r.bytes.size()) img.resize(r.offset + r.bytes.size());
    std::memcpy(img.data() + r.offset, r.bytes.data(), r.bytes.size());
    done.info.payload_bytes += r.bytes.size();
    done.info.record_count += (r.bytes.size() + wire::kMaxRecordPayload - 1) / wire::kMaxRecordPayload;
  }
  done.records = std::move(open_.records);
  open_ = OpenEpoch{};
  ring_tail_ = done.info.end_pos;
  history_[epoch] = std::move(done);
  committed_epoch_ = epoch;
  ++commits_of_[epoch];
  commit_order_.push_back(epoch);
  if (lose_next_ack_) {
    lose_next_ack_ = false;
    return Kill(conn,
                Status::Unavailable("fake memnode: connection lost before the commit acknowledgement (injected)"));
  }
  return Status::OK();
}

Status FakeMemnode::ReadImage(uint64_t conn, uint32_t region_id, uint64_t offset, void* dst, size_t len) {
  Enter(Op::kReadImage);
  std::lock_guard<std::mutex> l(mu_);
  auto c = Usable(conn);
  if (!c.ok()) return c.status();
  if ((*c)->admin) return Refuse(Status::FailedPrecondition("an admin session can only list apps and epochs"));
  if (Status st = CheckRange(region_id, offset, len); !st.ok()) return Refuse(st);
  if (TakeFault(Op::kReadImage)) return Kill(conn, Status::IOError("fake memnode: read lost (injected)"));
  auto* out = static_cast<uint8_t*>(dst);
  std::memset(out, 0, len);
  auto it = image_.find(region_id);
  if (it != image_.end() && offset < it->second.size())
    std::memcpy(out, it->second.data() + offset, std::min<uint64_t>(len, it->second.size() - offset));
  if (corrupt_next_read_ && len != 0) {
    corrupt_next_read_ = false;
    if (corruption_ == Corruption::kErrorStatus)
      return Kill(conn, Status::Corruption("image page at region " + std::to_string(region_id) +
                                           " fails its checksum after the transfer (injected)"));
    out[len / 2] ^= 0xff;
  }
  return Status::OK();
}

Result<std::vector<wire::AppSummary>> FakeMemnode::ListApps(uint64_t conn) {
  Enter(Op::kList);
  std::lock_guard<std::mutex> l(mu_);
  auto c = Usable(conn);
  if (!c.ok()) return c.status();
  if (TakeFault(Op::kList)) return Kill(conn, Status::IOError("fake memnode: list lost (injected)"));
  std::vector<wire::AppSummary> apps;
  if (!exists_) return apps;
  wire::AppSummary a{};
  std::memcpy(a.name, app_.data(), std::min(app_.size(), sizeof a.name - 1));
  a.app_id = 1;
  a.committed_epoch = a.applied_epoch = committed_epoch_;
  for (const RegionSpec& r : regions_) a.image_size += r.size;
  a.ring_capacity = ring_capacity_;
  a.last_commit_unix_ns = history_.empty() ? 0 : history_.rbegin()->second.info.commit_unix_ns;
  a.region_count = static_cast<uint32_t>(regions_.size());
  a.writer_attached = writer_conn_ != 0 ? 1 : 0;
  apps.push_back(a);
  return apps;
}

Result<EpochListing> FakeMemnode::ListEpochs(uint64_t conn, std::string_view app, uint64_t from, uint64_t to) {
  Enter(Op::kList);
  std::lock_guard<std::mutex> l(mu_);
  auto c = Usable(conn);
  if (!c.ok()) return c.status();
  if (TakeFault(Op::kList)) return Kill(conn, Status::IOError("fake memnode: list lost (injected)"));
  // A refused query leaves the session usable, as on the memnode.
  RESPCT_RETURN_IF_ERROR(CheckQueriedApp(**c, app));
  if (from > to || to - from >= wire::kMaxEpochsPerQuery)
    return Status::InvalidArgument("epoch range " + std::to_string(from) + ".." + std::to_string(to) + " is invalid");
  EpochListing out;
  out.committed_epoch = out.applied_epoch = committed_epoch_;
  for (auto it = history_.lower_bound(from); it != history_.end() && it->first <= to; ++it)
    out.epochs.push_back(it->second.info);
  return out;
}

Result<std::vector<wire::EpochWrites>> FakeMemnode::ListWrites(uint64_t conn, std::string_view app, uint64_t from,
                                                               uint64_t to) {
  Enter(Op::kList);
  std::lock_guard<std::mutex> l(mu_);
  auto c = Usable(conn);
  if (!c.ok()) return c.status();
  if (TakeFault(Op::kList)) return Kill(conn, Status::IOError("fake memnode: list lost (injected)"));
  RESPCT_RETURN_IF_ERROR(CheckQueriedApp(**c, app));
  if (from >= to || to > committed_epoch_ || to - from > wire::kMaxEpochsPerQuery)
    return Status::InvalidArgument("epochs " + std::to_string(from) + ".." + std::to_string(to) +
                                   ": need E1 < E2 <= the committed epoch " + std::to_string(committed_epoch_));
  std::vector<wire::EpochWrites> out;
  for (uint64_t e = from + 1; e <= to; ++e) {
    wire::EpochWrites w;
    w.epoch = e;
    auto it = history_.find(e);
    if (it == history_.end()) {
      w.status = wire::WritesStatus::kNoHistory;
    } else {
      w.status = wire::WritesStatus::kPresent;
      // One range per record on the ring: appends above kMaxRecordPayload are split.
      for (const Record& r : it->second.records) {
        for (size_t done = 0; done < r.bytes.size();) {
          const size_t n = std::min<size_t>(r.bytes.size() - done, wire::kMaxRecordPayload);
          w.ranges.push_back(wire::WrittenRange{r.region_id, static_cast<uint32_t>(n), r.offset + done});
          done += n;
        }
      }
    }
    out.push_back(std::move(w));
  }
  return out;
}

void FakeMemnode::Close(uint64_t conn) {
  std::lock_guard<std::mutex> l(mu_);
  (void)Kill(conn, Status::OK());
  conns_.erase(conn);
}

}  // namespace respct::testing
