// RawWriter: a writer session whose ring bytes and Commit messages the test
// writes by hand (through the same sinks as the real client), to hand the
// memnode corrupted, truncated or lying epochs.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "runtime/transport/client_handshake.h"
#include "runtime/transport/transport.h"

namespace respct::test {

struct RawWriter {
  std::unique_ptr<FrameChannel> sock;
  std::optional<AttachReply> attach;
  std::unique_ptr<RingSink> sink;

  static Result<std::unique_ptr<RawWriter>> Open(const std::string& url, const Secret& secret,
                                                 const ConnectOptions& o) {
    auto ep = ParseEndpoint(url);
    if (!ep.ok()) return ep.status();
    auto s = ConnectChannel(*ep, o.timeout_ms);
    if (!s.ok()) return s.status();
    auto w = std::make_unique<RawWriter>();
    w->sock = std::move(*s);
    RESPCT_RETURN_IF_ERROR(ClientHandshake(*w->sock, secret, o.app, o.timeout_ms));
    auto a = ClientAttach(*w->sock, o);
    if (!a.ok()) return a.status();
    auto sink = MakeWriterSink(*a, w->sock.get(), false);
    if (!sink.ok()) return sink.status();
    w->sink = std::move(*sink);
    w->attach.emplace(std::move(*a));
    return w;
  }

  uint64_t tail() const { return attach->ok.ring_tail; }
  uint64_t epoch() const { return attach->ok.committed_epoch + 1; }

  // Puts raw bytes at ring position `pos` (must not cross the lap end).
  Status Put(uint64_t pos, const void* bytes, size_t len) {
    auto d = sink->Reserve(pos, len);
    if (!d.ok()) return d.status();
    std::memcpy(*d, bytes, len);
    return Status::OK();
  }

  // Sends `c` and returns the memnode's answer: OK for a CommitAck, else its Error.
  Status Commit(const wire::CommitMsg& c) {
    RESPCT_RETURN_IF_ERROR(sink->Flush());
    RESPCT_RETURN_IF_ERROR(sock->SendStruct(wire::MsgType::kCommit, c));
    for (;;) {
      Frame f;
      RESPCT_RETURN_IF_ERROR(sock->Receive(&f, 10000));
      if (f.type() == wire::MsgType::kCommitAck) return Status::OK();
      if (f.type() == wire::MsgType::kError) return StatusFromErrorFrame(f);
    }
  }

  // Waits until the memnode has closed the connection (after an Error).
  bool WaitClosed() {
    for (;;) {
      Frame f;
      Status st = sock->Receive(&f, 10000);
      if (!st.ok()) return st.IsUnavailable() && st.message().find("closed") != std::string::npos;
    }
  }
};

// A writer may be refused for a moment while the memnode tears down the
// previous writer's connection; wait that out (ConnectOptions::busy_wait_ms).
inline Result<std::unique_ptr<Transport>> ConnectWriter(const std::string& url, const Secret& secret,
                                                        ConnectOptions o) {
  o.busy_wait_ms = 1000;
  return Transport::Connect(url, secret, o);
}

}  // namespace respct::test
