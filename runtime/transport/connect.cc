// Transport::Connect: from a URL to an attached ClientSession. The only place
// that knows which RingSink goes with which ring mode.
#include <memory>
#include <string>

#include "runtime/transport/client_handshake.h"
#include "runtime/transport/client_session.h"
#include "runtime/transport/inline_ring_sink.h"
#include "runtime/transport/shared_ring_sink.h"
#include "runtime/transport/transport.h"

namespace respct {
namespace {

// "connect 127.0.0.1:7100: Connection refused" → "memnode at tcp://127.0.0.1:7100 unreachable: Connection refused".
Status Unreachable(const std::string& url, const Status& st) {
  if (st.code() == Status::Code::kInvalidArgument) return st.Annotate("memnode at " + url);
  const std::string& m = st.message();
  const size_t cut = m.rfind(": ");
  const std::string cause = cut == std::string::npos ? m : m.substr(cut + 2);
  return Status::Unavailable("memnode at " + url + " unreachable: " + cause);
}

Result<std::unique_ptr<RingSink>> MakeRingSink(AttachReply& attach, FrameSocket* sock) {
  switch (static_cast<wire::RingMode>(attach.ok.ring_mode)) {
    case wire::RingMode::kInline:
      return std::unique_ptr<RingSink>(std::make_unique<InlineRingSink>(sock, attach.ok.ring_capacity));
    case wire::RingMode::kShared: {
      if (attach.ring_fd < 0) return Status::Corruption("memnode chose a shared ring but passed no descriptor");
      auto sink = SharedRingSink::Map(attach.TakeFd(), attach.ok.ring_capacity);
      if (!sink.ok()) return sink.status();
      return std::unique_ptr<RingSink>(std::move(*sink));
    }
  }
  return Status::Corruption("memnode chose unknown ring mode " + std::to_string(attach.ok.ring_mode));
}

}  // namespace

Result<std::unique_ptr<Transport>> Transport::Connect(std::string_view url, const Secret& secret,
                                                      const ConnectOptions& options) {
  auto ep = ParseEndpoint(url);
  if (!ep.ok()) return ep.status();
  const std::string name = ep->ToString();
  Result<FrameSocket> raw = Status::InvalidArgument("rdma:// transport is not built yet");
  switch (ep->kind) {
    case Endpoint::Kind::kTcp: raw = FrameSocket::ConnectTcp(ep->host, ep->port, options.timeout_ms); break;
    case Endpoint::Kind::kShm: raw = FrameSocket::ConnectUnix(ep->path, options.timeout_ms); break;
    case Endpoint::Kind::kRdma: return raw.status();
  }
  if (!raw.ok()) return Unreachable(name, raw.status());
  auto sock = std::make_unique<FrameSocket>(std::move(*raw));

  Status st = ClientHandshake(*sock, secret, options.app, options.timeout_ms);
  if (!st.ok()) return st.message().starts_with("memnode") ? st : st.Annotate("memnode at " + name);
  if (options.app.empty())
    return std::unique_ptr<Transport>(new ClientSession(name, std::move(sock), nullptr, nullptr, options.timeout_ms));

  auto attach = ClientAttach(*sock, options);
  if (!attach.ok()) return attach.status().Annotate("attach app '" + options.app + "'");
  std::unique_ptr<RingSink> sink;
  if (options.writer) {
    auto made = MakeRingSink(*attach, sock.get());
    if (!made.ok()) return made.status().Annotate("attach app '" + options.app + "'");
    sink = std::move(*made);
  }
  return std::unique_ptr<Transport>(
      new ClientSession(name, std::move(sock), &*attach, std::move(sink), options.timeout_ms));
}

}  // namespace respct
