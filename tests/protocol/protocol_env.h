// Shared set-up of the memnode-backed protocol tests: one memnode per test
// binary, connect helpers, the transports to parameterise over.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "runtime/transport/client_handshake.h"
#include "runtime/transport/transport.h"
#include "harness/memnode_process.h"

namespace respct::test {

// One memnode for the whole test binary (started lazily, restarted by crash tests).
inline MemnodeProcess& Memnode() {
  // A function-local object: its destructor stops the memnode and removes its
  // directory when the test binary exits.
  static MemnodeProcess m(MemnodeProcess::Options{.binary = RESPCT_MEMNODE_BIN});
  static const bool started = [] {
    Status st = m.Start();
    if (!st.ok()) ADD_FAILURE() << st.ToString();
    return st.ok();
  }();
  (void)started;
  return m;
}

// "rdma_client": rdma:// with client-side durability (READ after the WRITEs).
inline std::string UrlOf(const std::string& transport) {
  if (transport == "rdma") return Memnode().rdma_url();
  if (transport == "rdma_client") return Memnode().rdma_url() + "?durability=client";
  return transport == "shm" ? Memnode().shm_url() : Memnode().tcp_url();
}

// The rdma cases run only where an RDMA device exists (the guest tier).
#define RESPCT_SKIP_WITHOUT_RDMA(transport)                                                                    \
  do {                                                                                                         \
    if ((transport).starts_with("rdma") && !::respct::test::HaveRdmaDevice())                                  \
      GTEST_SKIP() << "no RDMA device (run the guest tier: ctest -L rdma)";                                     \
  } while (0)

// A bare channel to the memnode for `url`, for tests that speak raw frames.
inline std::unique_ptr<FrameChannel> RawChannel(const std::string& url) {
  auto ep = ParseEndpoint(url);
  if (!ep.ok()) return nullptr;
  auto ch = ConnectChannel(*ep, 5000);
  if (!ch.ok()) ADD_FAILURE() << ch.status().ToString();
  return ch.ok() ? std::move(*ch) : nullptr;
}

inline ConnectOptions AppOptions(const std::string& app, std::vector<RegionSpec> regions, bool writer,
                                 bool create = true) {
  ConnectOptions o;
  o.app = app;
  o.regions = std::move(regions);
  o.writer = writer;
  o.create = create;
  return o;
}

// A test name suffix and app-name part for each transport.
inline std::string TransportName(const ::testing::TestParamInfo<std::string>& info) { return info.param; }

}  // namespace respct::test
