#include "tools/launch/image_fetch.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>
#include <vector>

#include "runtime/base/page.h"
#include "runtime/core/layout.h"
#include "runtime/core/meta_region.h"
#include "runtime/core/recovery_image_writer.h"
#include "runtime/transport/replica_set.h"
#include "runtime/transport/transport.h"

namespace respct::launch {
namespace {

using core::kPageSize;
constexpr size_t kChunk = 8u << 20;


double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

class Progress {
 public:
  Progress(bool on, std::string what, uint64_t total) : on_(on), what_(std::move(what)), total_(total) {}
  void Update(uint64_t done, bool last = false) {
    if (!on_) return;
    const double now = Now();
    if (!last && now - shown_ < 0.25) return;
    shown_ = now;
    const bool tty = isatty(2) != 0;
    std::fprintf(stderr, "%s%s: %llu / %llu MiB (%d%%)%s", tty ? "\r" : "", what_.c_str(),
                 static_cast<unsigned long long>(done >> 20), static_cast<unsigned long long>(total_ >> 20),
                 total_ == 0 ? 100 : static_cast<int>(done * 100 / total_), tty && !last ? "" : "\n");
  }

 private:
  bool on_;
  std::string what_;
  uint64_t total_;
  double shown_ = 0;
};

Result<wire::AppSummary> Summary(Transport* t, const std::string& app) {
  auto apps = t->ListApps();
  if (!apps.ok()) return apps.status();
  for (const wire::AppSummary& a : apps.value())
    if (app == a.name) return a;
  return Status::NotFound("app '" + app + "' is not on the memnode");
}

// Waits for the writer of a just-killed process to be noticed as gone.
Status WaitForNoWriter(Transport* t, const ImageFetchOptions& o) {
  if (o.take_over) return Status::OK();
  const double deadline = Now() + o.writer_wait_ms / 1000.0;
  for (;;) {
    auto s = Summary(t, o.app);
    if (!s.ok()) return s.status();
    if (s->writer_attached == 0) return Status::OK();
    if (Now() >= deadline)
      return Status::FailedPrecondition("app '" + o.app +
                                        "' is still running (its writer is attached to the memnode): stop it "
                                        "before recovering it, or give --take-over if that process is believed "
                                        "dead (frozen, cut off): it is then fenced");
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

// The memnode to read the image from: the only one, or among replicas the
// one with the highest committed epoch of those that answer, which must be
// a read quorum (every read quorum meets the write quorum of the last
// committed epoch, so that epoch is the highest any of them holds). With
// `wait_for_writer`, each waits for the writer of a just-killed process to
// be gone first.
Result<std::string> SourceReplica(const ImageFetchOptions& o, bool wait_for_writer) {
  auto quorum = ParseCommitQuorum(o.commit_quorum);
  if (!quorum.ok()) return quorum.status();
  auto set = ParseReplicaSet({o.memnode}, *quorum);
  if (!set.ok()) return set.status();
  if (set->size() == 1) return set->urls[0];
  size_t answered = 0;
  std::string best, why;
  uint64_t best_epoch = 0;
  for (const std::string& url : set->urls) {
    ConnectOptions admin;
    admin.timeout_ms = 5000;
    auto conn = Transport::Connect(url, o.secret, admin);
    Status st = conn.status();
    uint64_t epoch = 0;
    if (st.ok() && wait_for_writer) st = WaitForNoWriter(conn.value().get(), o);
    if (st.ok()) {
      auto summary = Summary(conn.value().get(), o.app);
      if (summary.ok()) epoch = summary->committed_epoch;
      else if (!summary.status().IsNotFound()) st = summary.status();
    }
    if (!st.ok()) {
      why += "; " + url + ": " + st.ToString();
      continue;
    }
    ++answered;
    if (best.empty() || epoch > best_epoch) {
      best = url;
      best_epoch = epoch;
    }
  }
  if (answered < set->read_quorum())
    return Status::Unavailable(std::to_string(answered) + " of " + std::to_string(set->size()) +
                               " memnodes answered, a read quorum is " + std::to_string(set->read_quorum()) +
                               ": the last committed epoch cannot be known" + why);
  return best;
}

}  // namespace

Result<ImageProbe> ProbeImage(const ImageFetchOptions& options) {
  auto source = SourceReplica(options, /*wait_for_writer=*/false);
  if (!source.ok()) return source.status();
  ImageFetchOptions o = options;
  o.memnode = source.value();
  ImageProbe out;
  ConnectOptions admin;
  admin.timeout_ms = 10000;
  auto conn = Transport::Connect(o.memnode, o.secret, admin);
  if (!conn.ok()) return conn.status().Annotate("memnode " + o.memnode);
  auto summary = Summary(conn.value().get(), o.app);
  if (!summary.ok()) {
    if (summary.status().IsNotFound()) return out;
    return summary.status();
  }
  out.present = true;
  out.committed_epoch = summary->committed_epoch;
  if (out.committed_epoch == 0) return out;
  ConnectOptions reader;
  reader.app = o.app;
  auto app = Transport::Connect(o.memnode, o.secret, reader);
  if (!app.ok()) return app.status().Annotate("memnode " + o.memnode);
  Transport* t = app.value().get();
  uint64_t meta_size = 0;
  for (const RegionSpec& r : t->info().regions)
    if (r.id == core::kMetaRegion) meta_size = r.size;
  if (meta_size < core::kMetaHeaderBytes)
    return Status::Corruption("app '" + o.app + "' has no meta region: not an app written by the respct shim");
  std::vector<uint8_t> meta(meta_size);
  RESPCT_RETURN_IF_ERROR(t->ReadImage(core::kMetaRegion, 0, meta.data(), meta.size()));
  auto threads = core::LiveThreadsInMeta(meta.data(), meta.size());
  if (!threads.ok()) return threads.status().Annotate("app '" + o.app + "'");
  core::MetaHeader m;
  std::memcpy(&m, meta.data(), sizeof m);
  out.exited = m.exited == core::kMetaExitedMark || *threads == 0;
  return out;
}

Result<FetchedImage> FetchImage(const ImageFetchOptions& options) {
  const double t0 = Now();
  auto source = SourceReplica(options, /*wait_for_writer=*/true);
  if (!source.ok()) return source.status();
  ImageFetchOptions o = options;
  o.memnode = source.value();
  ConnectOptions copt;
  copt.app = o.app;
  auto conn = Transport::Connect(o.memnode, o.secret, copt);
  if (!conn.ok()) return conn.status().Annotate("memnode " + o.memnode);
  Transport* t = conn.value().get();
  RESPCT_RETURN_IF_ERROR(WaitForNoWriter(t, o));
  auto before = Summary(t, o.app);
  if (!before.ok()) return before.status();
  FetchedImage out;
  out.epoch = before->committed_epoch;
  if (out.epoch == 0)
    return Status::NotFound("app '" + o.app + "' has no committed epoch on " + o.memnode + ": nothing to recover");
  if (o.epoch != 0 && o.epoch != out.epoch)
    return Status::NotFound("epoch " + std::to_string(o.epoch) + " of app '" + o.app +
                            "' is not available: the memnode keeps the image of the last committed epoch only (" +
                            std::to_string(out.epoch) + ")");

  // The meta region first: it says how much of the others to read.
  const RegionSpec* meta_spec = nullptr;
  for (const RegionSpec& r : t->info().regions)
    if (r.id == core::kMetaRegion) meta_spec = &r;
  if (meta_spec == nullptr || meta_spec->size < core::kMetaHeaderBytes)
    return Status::Corruption("app '" + o.app + "' has no meta region: not an app written by the respct shim");
  std::vector<uint8_t> meta(meta_spec->size);
  RESPCT_RETURN_IF_ERROR(t->ReadImage(core::kMetaRegion, 0, meta.data(), meta.size()));
  auto threads = core::LiveThreadsInMeta(meta.data(), meta.size());
  if (!threads.ok()) return threads.status().Annotate("app '" + o.app + "'");
  out.threads = *threads;
  core::MetaHeader m;
  std::memcpy(&m, meta.data(), sizeof m);
  std::memcpy(out.at_random, m.at_random, sizeof out.at_random);

  std::vector<core::RecoveryImageWriter::Region> regions;
  uint64_t total = 0;
  for (const RegionSpec& r : t->info().regions) {
    const uint64_t stored = core::RegionBytesInUse(m, r.id, r.size);
    regions.push_back({r.id, r.base_addr, r.size, stored});
    total += stored;
  }
  auto writer = core::RecoveryImageWriter::Create(o.path, o.app, out.epoch, regions);
  if (!writer.ok()) return writer.status();
  Progress progress(o.progress && total >= (64u << 20),
                    "fetching the image of '" + o.app + "' (epoch " + std::to_string(out.epoch) + ")", total);
  std::vector<uint8_t> buf(kChunk);
  uint64_t done = 0;
  for (uint32_t i = 0; i < regions.size(); ++i) {
    const core::RecoveryImageWriter::Region& r = regions[i];
    for (uint64_t off = 0; off < r.stored; off += kChunk) {
      const size_t n = std::min<uint64_t>(kChunk, r.stored - off);
      if (r.id == core::kMetaRegion) {
        std::memcpy(buf.data(), meta.data() + off, n);
      } else if (Status st = t->ReadImage(r.id, off, buf.data(), n); !st.ok()) {
        return st.Annotate("read the image");
      }
      RESPCT_RETURN_IF_ERROR(writer->Write(i, off, buf.data(), n));
      done += n;
      out.bytes += n;
      progress.Update(done);
    }
  }
  progress.Update(done, true);
  RESPCT_RETURN_IF_ERROR(writer->Finish());
  auto after = Summary(t, o.app);
  if (!after.ok()) return after.status();
  if (after->committed_epoch != out.epoch) {
    unlink(o.path.c_str());
    return Status::FailedPrecondition("app '" + o.app + "' committed epoch " + std::to_string(after->committed_epoch) +
                                      " while its image was being read: is it running again?");
  }
  out.seconds = Now() - t0;
  return out;
}

}  // namespace respct::launch
