#include <charconv>
#include <string>

#include "runtime/transport/transport.h"

namespace respct {

std::string Endpoint::ToString() const {
  switch (kind) {
    case Kind::kShm: return "shm://" + path;
    case Kind::kTcp: return "tcp://" + (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port);
    case Kind::kRdma:
      return "rdma://" + (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port) +
             (client_persists ? "?durability=client" : "");
  }
  return "?";
}

Result<Endpoint> ParseEndpoint(std::string_view url, EndpointRole role) {
  const std::string u(url);
  auto bad = [&](std::string_view why) {
    return Status::InvalidArgument("memnode URL '" + u + "': " + std::string(why) +
                                   " (expected shm:///path, tcp://host:port or rdma://host:port[?durability=client])");
  };
  const size_t sep = url.find("://");
  if (sep == std::string_view::npos) return bad("no scheme");
  const std::string_view scheme = url.substr(0, sep);
  std::string_view rest = url.substr(sep + 3);
  Endpoint e;
  if (scheme == "shm") {
    if (rest.empty() || rest.front() != '/') return bad("shm needs an absolute path");
    e.kind = Endpoint::Kind::kShm;
    e.path = std::string(rest);
    return e;
  }
  if (scheme == "tcp") {
    e.kind = Endpoint::Kind::kTcp;
  } else if (scheme == "rdma") {
    e.kind = Endpoint::Kind::kRdma;
    const size_t q = rest.find('?');
    if (q != std::string_view::npos) {
      const std::string_view query = rest.substr(q + 1);
      rest = rest.substr(0, q);
      if (query == "durability=client") {
        e.client_persists = true;
      } else if (query != "durability=memnode") {
        return bad("unknown option '" + std::string(query) + "' (rdma:// takes durability=client or durability=memnode)");
      }
    }
  } else {
    return bad("unknown scheme '" + std::string(scheme) + "'");
  }
  std::string_view port;
  if (!rest.empty() && rest.front() == '[') {
    const size_t close = rest.find(']');
    if (close == std::string_view::npos || close + 1 >= rest.size() || rest[close + 1] != ':')
      return bad("bracketed host needs ]:port");
    e.host = std::string(rest.substr(1, close - 1));
    port = rest.substr(close + 2);
  } else {
    const size_t colon = rest.rfind(':');
    if (colon == std::string_view::npos) return bad("missing :port");
    e.host = std::string(rest.substr(0, colon));
    port = rest.substr(colon + 1);
  }
  if (e.host.empty()) return bad("empty host");
  unsigned value = 0;
  auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  const unsigned lowest = role == EndpointRole::kListen ? 0 : 1;
  if (ec != std::errc() || p != port.data() + port.size() || value < lowest || value > 65535)
    return bad(role == EndpointRole::kListen ? "port must be 0..65535 (0: any free port)" : "port must be 1..65535");
  e.port = static_cast<uint16_t>(value);
  return e;
}

}  // namespace respct
