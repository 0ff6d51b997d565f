// Transport: how a client reaches respct-memnode. One interface, three ways:
//   shm://PATH       memnode on this host; records memcpy'd into a shared ring
//   tcp://HOST:PORT  records streamed over a socket, pipelined
//   rdma://HOST:PORT records written one-sided into the memnode's ring (verbs);
//                    rdma://HOST:PORT?durability=client: the client makes its
//                    records durable itself (verbs_ring_sink.h says when that holds)
//
// The interface is shaped for the one-sided case: the client *places* each
// record at a ring position it computes itself (RingCursor), so a verbs
// implementation can RDMA-WRITE it there with no memnode CPU involved; Commit
// is the only round trip of an epoch. Usage:
//
//   auto t = Transport::Connect(url, secret, {.app = "bank", .regions = ..., .writer = true});
//   for each epoch e:  t->Append(e, region, offset, bytes, len) ...;  t->Commit(e);
//   t->ReadImage(region, offset, dst, len);   // state as of the last committed epoch
//
// A Transport is used by one thread at a time. Every call returns a Status;
// kUnavailable means the connection is lost: reconnect with Connect and resume
// from info().committed_epoch (an epoch the client did not see acknowledged
// may still have committed).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/base/status.h"
#include "runtime/transport/secret.h"
#include "runtime/wire/message.h"

namespace respct {

struct RegionSpec {
  uint32_t id = 0;
  uint64_t size = 0;
  uint64_t base_addr = 0;
};

struct ConnectOptions {
  std::string app;                  // empty: admin session (ListApps only)
  std::vector<RegionSpec> regions;  // the app's layout; must match an existing app's
  bool writer = false;              // commits epochs (at most one writer per app)
  bool create = false;              // create the app if it does not exist
  bool reset = false;               // writer: discard the app's image and epochs first
  uint64_t ring_capacity = 0;       // on creation; 0: memnode default
  int timeout_ms = 10000;           // connect and per-reply bound
  // Writer: for how long an attach the memnode refuses as busy (the app
  // already has a writer) is tried again. The memnode ends a writer's
  // session when it reads the closed connection, a moment after the
  // process died, so a program restarted at once can meet its own
  // predecessor; a writer still there after this long is a live one.
  int busy_wait_ms = 0;
  // rdma:// writer: make record bytes durable with an RDMA READ after the
  // WRITEs (PMem with DDIO off) instead of a memnode-side flush. Set by
  // ?durability=client in the URL.
  bool client_persists = false;
  // Writer: who this writer is, across its reconnections (kAttachWriterToken
  // in wire/message.h); all zero: none. A process draws one at random once.
  std::array<uint8_t, wire::kWriterTokenSize> writer_token{};
  // Writer: its generation (wire::kAttachGeneration): a memnode refuses a
  // writer older than one that attached since (kFenced) and ends the session
  // of an older one still attached if `take_over`. 0: none given.
  uint64_t writer_generation = 0;
  // Writer with a generation: an attached writer is fenced and its session
  // ended instead of the attach being refused as busy (respct-recover
  // --take-over: that writer is a process believed dead).
  bool take_over = false;
};

struct AttachInfo {
  uint64_t app_id = 0;
  uint64_t committed_epoch = 0;
  uint64_t applied_epoch = 0;
  uint64_t ring_capacity = 0;
  std::vector<RegionSpec> regions;
};

// An app's epoch history as ListEpochs returns it.
struct EpochListing {
  uint64_t committed_epoch = 0;
  uint64_t applied_epoch = 0;
  std::vector<wire::EpochInfo> epochs;  // oldest first
};

// Counters a transport keeps; cumulative since Connect.
struct TransportStats {
  uint64_t records = 0;
  uint64_t payload_bytes = 0;
  uint64_t ring_bytes = 0;      // including headers and padding
  uint64_t commits = 0;
  uint64_t ring_full_waits = 0; // times Append waited for the memnode to free space
};

class Transport {
 public:
  virtual ~Transport() = default;
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  // Parses `url`, connects, proves the secret, attaches to the app.
  static Result<std::unique_ptr<Transport>> Connect(std::string_view url, const Secret& secret,
                                                    const ConnectOptions& options);

  const AttachInfo& info() const { return info_; }
  const TransportStats& stats() const { return stats_; }

  // Adds one record to epoch `epoch` (which must be above
  // info().committed_epoch: usually one above; a replica that missed epochs
  // is caught up with one epoch numbered as the last of them), or to the
  // epoch being built. `len` may exceed kMaxRecordPayload: it is split.
  // Blocks while the ring is full until the memnode frees space.
  virtual Status Append(uint64_t epoch, uint32_t region_id, uint64_t offset, const void* data, size_t len) = 0;
  // Makes epoch `epoch` (possibly empty) durable; returns once the memnode says so.
  virtual Status Commit(uint64_t epoch) = 0;
  // Reads image bytes as of the last committed epoch.
  virtual Status ReadImage(uint32_t region_id, uint64_t offset, void* dst, size_t len) = 0;
  // Admin sessions and app sessions alike: every app of the pool, no bytes.
  virtual Result<std::vector<wire::AppSummary>> ListApps() = 0;
  // Metadata queries (admin sessions name any app; app sessions pass "" or
  // their own): the history of epochs in [from, to], and which bytes epochs
  // from+1 .. to wrote. A refused query (no such app, bad range) leaves the
  // session usable.
  virtual Result<EpochListing> ListEpochs(std::string_view app, uint64_t from, uint64_t to) = 0;
  virtual Result<std::vector<wire::EpochWrites>> ListWrites(std::string_view app, uint64_t from, uint64_t to) = 0;
  // A writer: faults in up to `max_bytes` more of the memory its records
  // are encoded into (RingSink::PrefaultSome); true once enough of it is.
  virtual bool PrefaultRingSome(uint64_t max_bytes) {
    (void)max_bytes;
    return true;
  }

 protected:
  Transport() = default;
  AttachInfo info_;
  TransportStats stats_;

 private:
  // One attempt of Connect: a new connection, handshake and attach.
  static Result<std::unique_ptr<Transport>> ConnectOnce(std::string_view url, const Secret& secret,
                                                        const ConnectOptions& options);
};

// A parsed memnode URL.
struct Endpoint {
  enum class Kind { kShm, kTcp, kRdma };
  Kind kind = Kind::kTcp;
  std::string path;  // shm: unix socket path
  std::string host;  // tcp/rdma
  uint16_t port = 0;
  bool client_persists = false;  // rdma: ?durability=client
  std::string ToString() const;
};
// Whether a URL names a memnode to reach or an address to listen on: only a
// listener may say port 0, "any free port".
enum class EndpointRole { kConnect, kListen };
// Accepts shm:///abs/path, tcp://HOST:PORT, rdma://HOST:PORT ([v6] hosts too);
// rdma:// takes ?durability=client or ?durability=memnode (the default).
Result<Endpoint> ParseEndpoint(std::string_view url, EndpointRole role = EndpointRole::kConnect);

}  // namespace respct
