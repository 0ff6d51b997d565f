// RingIntake: how a writer session's records reach its app's log ring, the
// memnode's side of the client's RingSink (runtime/transport/ring_sink.h),
// one strategy per ring mode (wire::RingMode):
//
//   InlineIntake         tcp://  RingWrite messages, copied into the pool ring
//                                as they arrive
//   SharedStagingIntake  shm://  the client encodes into a staging ring it
//                                shares with us (a sealed memfd passed with
//                                AttachOk); Commit copies the epoch's bytes
//                                into the pool ring
//   RemoteRingIntake     rdma:// the client RDMA-WRITEs into the pool ring,
//                                registered for it (its records durable by
//                                its own READ with ?durability=client on
//                                PMem), or, where the pool memory cannot be
//                                registered, into a DRAM staging ring copied
//                                at Commit
//
// A writer session picks one at Attach and keeps it until it ends; reader and
// admin sessions have none. Every check of what the client sent stays in
// App (RingWrite, Commit): an intake only says where the bytes are.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "memnode/app.h"
#include "runtime/base/status.h"
#include "runtime/transport/frame_channel.h"
#include "runtime/wire/message.h"

namespace respct::memnode {

class RingIntake {
 public:
  virtual ~RingIntake() = default;
  RingIntake(const RingIntake&) = delete;
  RingIntake& operator=(const RingIntake&) = delete;

  virtual wire::RingMode mode() const = 0;
  // How records arrive, for the attach log line.
  virtual std::string description() const = 0;
  // A RingWrite frame's bytes for ring position `pos`: only the inline
  // intake takes them.
  virtual Status Write(App* app, uint64_t pos, const uint8_t* data, size_t len);
  // Commits epoch `m` from wherever this intake's records are.
  virtual Status Commit(App* app, const wire::CommitMsg& m, wire::CommitAckMsg* ack) = 0;
  // Ends the peer's access to the memory it writes into; called before the
  // session gives up the writer slot (a new writer must never share the ring
  // with a peer that can still write into it). Safe to call twice.
  virtual void Withdraw(PeerMemory* peer) { (void)peer; }

 protected:
  RingIntake() = default;
};

class InlineIntake final : public RingIntake {
 public:
  InlineIntake() = default;
  wire::RingMode mode() const override { return wire::RingMode::kInline; }
  std::string description() const override { return "inline records"; }
  Status Write(App* app, uint64_t pos, const uint8_t* data, size_t len) override;
  Status Commit(App* app, const wire::CommitMsg& m, wire::CommitAckMsg* ack) override;
};

class SharedStagingIntake final : public RingIntake {
 public:
  // A staging ring of `capacity` bytes; *fd is the memfd to pass to the
  // client (the caller closes it once sent). We map it read-only.
  static Result<std::unique_ptr<SharedStagingIntake>> Create(uint64_t capacity, int* fd);
  ~SharedStagingIntake() override;
  wire::RingMode mode() const override { return wire::RingMode::kShared; }
  std::string description() const override { return "shared staging ring"; }
  Status Commit(App* app, const wire::CommitMsg& m, wire::CommitAckMsg* ack) override;

 private:
  SharedStagingIntake(const uint8_t* staging, uint64_t size) : staging_(staging), size_(size) {}
  const uint8_t* const staging_;
  const uint64_t size_;
};

class RemoteRingIntake final : public RingIntake {
 public:
  // Registers `app`'s ring for `peer` (or a DRAM staging ring where it
  // cannot be registered; `who` names the session in the warning that says
  // so). `client_persists`: the client asked to make its records durable.
  static Result<std::unique_ptr<RemoteRingIntake>> Create(App* app, PeerMemory* peer, bool client_persists,
                                                          const std::string& who);
  ~RemoteRingIntake() override;
  wire::RingMode mode() const override { return wire::RingMode::kRemote; }
  std::string description() const override;
  Status Commit(App* app, const wire::CommitMsg& m, wire::CommitAckMsg* ack) override;
  void Withdraw(PeerMemory* peer) override;
  // What the client is told in the RemoteRing message that follows AttachOk.
  wire::RemoteRingMsg window_message() const;

 private:
  RemoteRingIntake() = default;
  RemoteWindow window_;
  bool exposed_ = false;
  uint8_t* staging_ = nullptr;  // the DRAM fallback, or null: WRITEs land in the pool ring
  uint64_t staging_size_ = 0;
  // The client makes its records durable (its WRITEs land in PMem directly).
  bool records_durable_ = false;
};

}  // namespace respct::memnode
