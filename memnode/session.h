// Session: one client connection to respct-memnode, from handshake to close
// (the conversations runtime/wire/message.h describes), over any
// FrameChannel: a socket, or verbs SEND/RECV. A writer's records reach the
// ring by the RingIntake of its transport (ring_intake.h); over rdma:// (the
// channel has peer_memory) image reads are answered with windows to RDMA-READ
// (ImageGrant). The state machine is the same. It runs on its own thread and is a plain linear
// state machine: Hello -> Challenge -> Auth -> AuthOk, then either admin
// requests (ListApps, ListEpochs, ListWrites: metadata only) or Attach followed by writer/reader requests.
//
// A protocol violation ends only this session: it gets an Error naming the
// problem and the connection is closed; the app's state is untouched because
// every check happens before anything is persisted.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "memnode/pool.h"
#include "memnode/ring_intake.h"
#include "runtime/transport/frame_channel.h"
#include "runtime/transport/secret.h"

namespace respct::memnode {

struct SessionOptions {
  uint64_t default_ring = 64ull << 20;  // --ring-size: ring of a newly created app
  int handshake_timeout_ms = 10000;     // Hello and Auth must arrive within this
  int message_timeout_ms = 30000;       // a started message must complete within this
};

class Session {
 public:
  // `unix_socket`: the connection came in on an shm:// listener, so a writer
  // gets a shared staging ring instead of RingWrite messages.
  Session(FrameChannel* sock, Pool* pool, const Secret* secret, const SessionOptions& opts, bool unix_socket,
          std::string peer);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Serves the connection until the peer leaves, errs or is shut down.
  void Run();

 private:
  Status Handshake();
  Status Serve();
  // Withdraws the peer's RDMA windows and gives up the writer slot; safe to
  // call twice.
  void ReleaseApp();
  Status HandleAttach(const Frame& f);
  Status HandleRingWrite(const Frame& f);
  Status HandleCommit(const Frame& f);
  Status HandleReadImage(const Frame& f);
  Status HandleListApps();
  Status HandleListEpochs(const Frame& f);
  Status HandleListWrites(const Frame& f);
  // The app an epoch query names: any app for an admin session, only its
  // own for an app session.
  Result<App*> QueriedApp(const wire::EpochQueryMsg& q) const;
  // rdma:// ReadImage: one ImageGrant per piece, each withdrawn once the
  // client says it has read it.
  Status GrantImage(const wire::ReadImageMsg& msg, PeerMemory* peer);
  // Sends the checksums of the whole pages of [offset, offset + len), a part of `piece`.
  Status SendSums(const App::ImagePiece& piece, uint64_t offset, size_t len);
  Status GrantAndWait(const App::ImagePiece& piece, uint64_t offset, const RemoteWindow& w);
  // Waits (without bound) for the next message to begin, then reads it with
  // the per-message timeout, so an idle client may wait forever between
  // epochs but a half-sent message cannot pin this thread. A writer owed a
  // RingProgress waits in slices of kProgressPollMs and is sent it as soon
  // as its epochs are applied.
  Status ReceiveNext(Frame* f);
  // Tells the writer how far the app's epochs are applied if that moved
  // since it was last told (SendProgress), and whether more is still owed.
  Status SendLateProgress();
  Status SendProgress(const wire::RingProgressMsg& p, uint64_t committed_epoch);
  // Records what the writer now knows: AttachOk or a RingProgress told it
  // `applied_epoch` while `committed_epoch` was committed.
  void Told(uint64_t applied_epoch, uint64_t committed_epoch);
  static constexpr int kProgressPollMs = 20;

  FrameChannel* sock_;
  Pool* pool_;
  const Secret* secret_;
  SessionOptions opts_;
  bool unix_socket_;
  std::string peer_;
  std::string app_name_;  // empty: admin session
  App* app_ = nullptr;    // set by Attach
  bool writer_ = false;
  // A writer: how its records reach the ring (ring_intake.h). Kept until the
  // session ends, after ReleaseApp withdrew the peer's access to it.
  std::unique_ptr<RingIntake> intake_;
  // The applied epoch the writer was last told (AttachOk, RingProgress), and
  // whether it is behind the committed one: an image read in progress
  // deferred the apply (App::ReadImage), and the writer may be waiting for
  // the ring space that apply frees, with nothing left to commit.
  uint64_t told_applied_epoch_ = 0;
  bool progress_owed_ = false;
  std::unique_ptr<uint8_t[]> image_bounce_;  // rdma:// image reads when the pool cannot be registered
  RemoteWindow image_bounce_window_;
};

}  // namespace respct::memnode
