// VerbsRingSink: record bytes for a memnode reached over rdma://
// (RingMode::kRemote). Records are encoded in a local staging buffer
// registered once, and written with one-sided RDMA WRITEs straight into the
// memnode's ring window at slot(pos): no memnode CPU touches them until the
// Commit. Staging is two chunks: while one chunk's WRITEs are in flight the
// next one fills. Adjacent records become one WRITE (split at lap ends);
// small ones go inline; only the last WRITE of a group is signalled.
//
// Flush posts what is staged. The Commit SEND that follows on the same RC
// queue pair is executed by the memnode's side after those WRITEs, so the
// memnode sees every record when it handles the Commit.
//
// Durability modes (who makes the record bytes durable before CommitAck):
//   memnode (default)  the memnode persists the ring range (libpmem2) when it
//                      handles the Commit, then writes the commit record.
//                      Correct on any platform.
//   client             Flush ends with an RDMA READ of the last written bytes
//                      and waits for it: the READ response leaves the NIC only
//                      after the earlier WRITEs reached the memory controller
//                      ("appliance persistency"). That makes them durable only
//                      on PMem with DDIO off (or eADR); the memnode then skips
//                      its flush of the records and persists the commit record
//                      only (it still persists everything itself when its
//                      pool is not PMem or its ring is not the pool ring).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "runtime/transport/frame_channel.h"
#include "runtime/transport/ring_sink.h"
#include "runtime/transport/verbs_connection.h"

namespace respct {

class VerbsRingSink final : public RingSink {
 public:
  static constexpr uint64_t kChunkBytes = 4ull << 20;

  // `conn` must outlive the sink. `ring` is the memnode's window of `capacity` bytes.
  static Result<std::unique_ptr<VerbsRingSink>> Create(VerbsConnection* conn, const RemoteWindow& ring,
                                                       uint64_t capacity, bool client_persists);
  ~VerbsRingSink() override;
  VerbsRingSink(const VerbsRingSink&) = delete;
  VerbsRingSink& operator=(const VerbsRingSink&) = delete;

  Result<uint8_t*> Reserve(uint64_t pos, uint64_t len) override;
  Status Flush() override;

 private:
  static constexpr int kChunks = 2;
  static constexpr uint32_t kSignalEvery = 32;  // WRITEs per signalled group
  static constexpr int kWaitMs = 30000;
  struct Run {
    uint64_t pos;
    uint64_t begin;  // offset in the chunk
    uint64_t len;
  };
  struct Chunk {
    uint8_t* base = nullptr;
    uint64_t used = 0;
    std::vector<Run> runs;
    uint64_t posted = 0;  // signalled groups posted
    uint64_t done = 0;    // and completed
  };

  VerbsRingSink(VerbsConnection* conn, const RemoteWindow& ring, uint64_t capacity, bool client_persists)
      : conn_(conn), ring_(ring), capacity_(capacity), client_persists_(client_persists) {}
  // Posts the current chunk's runs and moves on to the next chunk.
  Status PostCurrent();
  // RDMA READ of the 8 bytes before `end` (client durability).
  Status ReadBack(uint64_t end);

  VerbsConnection* conn_;
  RemoteWindow ring_;
  uint64_t capacity_;
  bool client_persists_;
  std::unique_ptr<uint8_t[]> staging_;  // kChunks * kChunkBytes, then 8 bytes for ReadBack
  ibv_mr* mr_ = nullptr;
  Chunk chunks_[kChunks];
  int cur_ = 0;
  uint64_t last_end_ = 0;  // ring position after the last staged byte
  uint64_t read_posted_ = 0;
  uint64_t read_done_ = 0;
};

}  // namespace respct
