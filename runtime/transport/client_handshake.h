// Client side of the opening of a memnode conversation (protocol-spec §1, §3):
// mutual proof of the shared secret, then Attach. Used by every client
// transport, and by tests that then speak raw frames on the same socket.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "runtime/base/status.h"
#include "runtime/transport/frame_socket.h"
#include "runtime/transport/secret.h"
#include "runtime/transport/transport.h"
#include "runtime/wire/message.h"
#include "runtime/wire/record.h"

namespace respct {

// Hello → Challenge (server proof checked) → Auth → AuthOk. An empty `app`
// opens an admin session.
Status ClientHandshake(FrameSocket& sock, const Secret& secret, std::string_view app, int timeout_ms);

struct AttachReply {
  wire::AttachOkMsg ok{};
  std::vector<wire::RegionDesc> regions;
  int ring_fd = -1;  // the staging ring of a kShared writer; the caller owns it

  AttachReply() = default;
  AttachReply(AttachReply&& o) noexcept : ok(o.ok), regions(std::move(o.regions)), ring_fd(o.ring_fd) {
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

// Attach{flags, regions} → AttachOk, with the reply checked for consistency.
Result<AttachReply> ClientAttach(FrameSocket& sock, const ConnectOptions& options);

}  // namespace respct
