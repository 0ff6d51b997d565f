// Client side of the opening of a memnode conversation (wire/message.h):
// the channel for a URL, mutual proof of the shared secret, Attach, and the
// RingSink that goes with the ring mode the memnode chose. Used by every
// client transport, and by tests that then speak raw frames on the same channel.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "runtime/base/status.h"
#include "runtime/transport/frame_channel.h"
#include "runtime/transport/ring_sink.h"
#include "runtime/transport/secret.h"
#include "runtime/transport/transport.h"
#include "runtime/wire/message.h"
#include "runtime/wire/record.h"

namespace respct {

struct AttachReply {
  wire::AttachOkMsg ok{};
  std::vector<wire::RegionDesc> regions;
  int ring_fd = -1;  // the staging ring of a kShared writer; the caller owns it
  wire::RemoteRingMsg remote_ring{};  // the ring window of a kRemote writer

  AttachReply() = default;
  AttachReply(AttachReply&& o) noexcept
      : ok(o.ok), regions(std::move(o.regions)), ring_fd(o.ring_fd), remote_ring(o.remote_ring) {
    o.ring_fd = -1;
  }
  AttachReply& operator=(AttachReply&&) = delete;
  AttachReply(const AttachReply&) = delete;
  ~AttachReply();
  int TakeFd() {
    const int f = ring_fd;
    ring_fd = -1;
    return f;
  }
};

// Connects the channel for `ep` (a socket, or verbs for rdma://).
Result<std::unique_ptr<FrameChannel>> ConnectChannel(const Endpoint& ep, int timeout_ms);

// Hello → Challenge (server proof checked) → Auth → AuthOk. An empty `app`
// opens an admin session.
Status ClientHandshake(FrameChannel& sock, const Secret& secret, std::string_view app, int timeout_ms);

// Attach{flags, regions} → AttachOk (+ RemoteRing for kRemote), with the
// reply checked for consistency.
Result<AttachReply> ClientAttach(FrameChannel& sock, const ConnectOptions& options);

// The writer's RingSink for the ring mode in `attach` (which may hand over its
// descriptor). `chan` must outlive the sink.
Result<std::unique_ptr<RingSink>> MakeWriterSink(AttachReply& attach, FrameChannel* chan, bool client_persists);

}  // namespace respct
