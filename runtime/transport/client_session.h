// ClientSession: the Transport every client URL scheme shares (the conversation
// of wire/message.h). It owns the connection after the handshake, the
// EpochWriter of a writer session, and the RingSink that moves record bytes
// (the only part that differs between tcp://, shm:// and rdma://).
//
// Everything the memnode sends that is not the awaited reply is a
// RingProgress (space freed by apply), consumed on every read of the socket;
// a writer blocked on a full ring waits in a blocking read for the next one.
// After a failure that leaves the conversation in an unknown state (lost
// connection, an Error to a Commit, a malformed reply) the session refuses
// further calls with kUnavailable: reconnect and resume from
// info().committed_epoch.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "runtime/transport/client_handshake.h"
#include "runtime/transport/epoch_writer.h"
#include "runtime/transport/frame_channel.h"
#include "runtime/transport/ring_sink.h"
#include "runtime/transport/transport.h"

namespace respct {

class ClientSession final : public Transport {
 public:
  // An admin session (no app): `attach` is null and so is `sink`.
  // A reader has `attach` and no sink; a writer has both.
  ClientSession(std::string url, std::unique_ptr<FrameChannel> sock, const AttachReply* attach,
                std::unique_ptr<RingSink> sink, int timeout_ms);

  Status Append(uint64_t epoch, uint32_t region_id, uint64_t offset, const void* data, size_t len) override;
  Status Commit(uint64_t epoch) override;
  Status ReadImage(uint32_t region_id, uint64_t offset, void* dst, size_t len) override;
  Result<std::vector<wire::AppSummary>> ListApps() override;
  Result<EpochListing> ListEpochs(std::string_view app, uint64_t from, uint64_t to) override;
  Result<std::vector<wire::EpochWrites>> ListWrites(std::string_view app, uint64_t from, uint64_t to) override;
  bool PrefaultRingSome(uint64_t max_bytes) override { return sink_ == nullptr || sink_->PrefaultSome(max_bytes); }

 private:
  Status CheckUsable() const;
  Status CheckWriter() const;
  // Records a failure that ends the conversation and returns it, naming the memnode.
  Status Broken(const Status& st);
  // Classifies an EpochWriter failure: lost bytes end the session, refusals do not.
  Status WriterFailure(const Status& st);
  // Receives frames until one of type `want`, consuming RingProgress ones.
  Status ReceiveReply(wire::MsgType want, Frame* out);
  // Blocks for the next RingProgress (a writer waiting for ring space).
  Status WaitForProgress();
  Status OnProgress(const Frame& f);
  // Sends an EpochQuery of `type`; InvalidArgument for a name that cannot be sent.
  Status SendEpochQuery(wire::MsgType type, std::string_view app, uint64_t from, uint64_t to);
  // Receives the reply of type `want` to a query: an Error frame is the
  // memnode refusing it (the session stays usable), anything else that fails
  // ends the session.
  Status ReceiveQueryReply(wire::MsgType want, Frame* f);
  Status CheckRegion(uint32_t region_id, uint64_t offset, uint64_t len) const;

  std::string url_;
  std::unique_ptr<FrameChannel> sock_;
  std::unique_ptr<RingSink> sink_;
  std::unique_ptr<EpochWriter> writer_;
  bool admin_;
  int timeout_ms_;
  Status broken_;
};

}  // namespace respct
