// Transport::Connect: from a URL to an attached ClientSession.
#include <chrono>
#include <cstring>
#include <memory>
#include <string>
#include <thread>

#include "runtime/transport/client_handshake.h"
#include "runtime/transport/client_session.h"
#include "runtime/transport/transport.h"

namespace respct {
namespace {

// "connect 127.0.0.1:7100: Connection refused" → "memnode at tcp://127.0.0.1:7100 unreachable: Connection refused":
// the URL already says where, so a failed system call is told by its errno
// alone. Verbs set-up errors are already one phrase ("no RDMA device ...",
// "connection refused").
Status Unreachable(const std::string& url, const Status& st) {
  if (st.code() == Status::Code::kInvalidArgument || st.code() == Status::Code::kFailedPrecondition)
    return st.Annotate("memnode at " + url);
  const std::string cause = st.sys_errno() != 0 ? std::strerror(st.sys_errno()) : st.message();
  return Status::Unavailable("memnode at " + url + " unreachable: " + cause);
}

}  // namespace

Result<std::unique_ptr<Transport>> Transport::Connect(std::string_view url, const Secret& secret,
                                                      const ConnectOptions& options) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(options.busy_wait_ms);
  for (;;) {
    auto t = ConnectOnce(url, secret, options);
    if (t.ok() || !t.status().IsBusy() || std::chrono::steady_clock::now() >= deadline) return t;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

Result<std::unique_ptr<Transport>> Transport::ConnectOnce(std::string_view url, const Secret& secret,
                                                          const ConnectOptions& options) {
  auto ep = ParseEndpoint(url);
  if (!ep.ok()) return ep.status();
  const std::string name = ep->ToString();
  auto chan = ConnectChannel(*ep, options.timeout_ms);
  if (!chan.ok()) return Unreachable(name, chan.status());
  std::unique_ptr<FrameChannel> sock = std::move(*chan);

  Status st = ClientHandshake(*sock, secret, options.app, options.timeout_ms);
  if (!st.ok()) return st.from_peer() ? st : st.Annotate("memnode at " + name);
  if (options.app.empty())
    return std::unique_ptr<Transport>(new ClientSession(name, std::move(sock), nullptr, nullptr, options.timeout_ms));

  ConnectOptions attach_options = options;
  attach_options.client_persists = options.client_persists || ep->client_persists;
  auto attach = ClientAttach(*sock, attach_options);
  if (!attach.ok()) return attach.status().Annotate("attach app '" + options.app + "'");
  std::unique_ptr<RingSink> sink;
  if (options.writer) {
    auto made = MakeWriterSink(*attach, sock.get(), attach_options.client_persists);
    if (!made.ok()) return made.status().Annotate("attach app '" + options.app + "'");
    sink = std::move(*made);
  }
  return std::unique_ptr<Transport>(
      new ClientSession(name, std::move(sock), &*attach, std::move(sink), options.timeout_ms));
}

}  // namespace respct
