// Status (runtime/base/status.h): what callers branch on is in the status,
// not in its message text — the code, the errno of a failed system call, and
// whether the peer reported the error — and Annotate keeps all three.
#include <cerrno>
#include <cstring>

#include <gtest/gtest.h>

#include "runtime/base/status.h"
#include "runtime/transport/frame_channel.h"

namespace respct {
namespace {

TEST(Status, FromErrnoKeepsTheErrnoAndMapsUnreachablePeersToUnavailable) {
  const Status refused = Status::FromErrno("connect 127.0.0.1:7100", ECONNREFUSED);
  EXPECT_TRUE(refused.IsUnavailable());
  EXPECT_EQ(refused.sys_errno(), ECONNREFUSED);
  EXPECT_EQ(refused.message(), std::string("connect 127.0.0.1:7100: ") + std::strerror(ECONNREFUSED));
  EXPECT_TRUE(Status::FromErrno("connect x", ETIMEDOUT).IsUnavailable());
  EXPECT_TRUE(Status::FromErrno("open /x", ENOENT).IsNotFound());
  const Status io = Status::FromErrno("write /x", ENOSPC);
  EXPECT_EQ(io.code(), Status::Code::kIOError);
  EXPECT_EQ(io.sys_errno(), ENOSPC);
  EXPECT_EQ(Status::Corruption("bad magic").sys_errno(), 0);
  EXPECT_EQ(Status::OK().sys_errno(), 0);
}

TEST(Status, AnnotateKeepsCodeErrnoAndOrigin) {
  const Status st = Status::FromErrno("recv", ECONNRESET).Annotate("memnode at tcp://127.0.0.1:7100");
  EXPECT_TRUE(st.IsUnavailable());
  EXPECT_EQ(st.sys_errno(), ECONNRESET);
  EXPECT_EQ(st.message().rfind("memnode at tcp://127.0.0.1:7100: recv: ", 0), 0u) << st.message();
  const Status peer = Status::FromPeer(Status::Code::kBusy, "memnode: app 'a' already has a writer attached");
  EXPECT_TRUE(peer.from_peer());
  EXPECT_TRUE(peer.Annotate("attach app 'a'").from_peer());
  EXPECT_TRUE(peer.Annotate("attach app 'a'").IsBusy());
  EXPECT_FALSE(Status::Busy("local").from_peer());
  EXPECT_TRUE(Status::OK().Annotate("context").ok());
}

TEST(Status, AnErrorFrameBecomesAPeerStatusWithItsCode) {
  struct Case {
    Status sent;
    Status::Code want;
  };
  const Case cases[] = {
      {Status::PermissionDenied("bad proof"), Status::Code::kPermissionDenied},
      {Status::ResourceExhausted("pool full"), Status::Code::kResourceExhausted},
      {Status::Busy("writer attached"), Status::Code::kBusy},
      {Status::Corruption("page checksum"), Status::Code::kCorruption},
  };
  for (const Case& c : cases) {
    Frame f;
    f.header.type = static_cast<uint16_t>(wire::MsgType::kError);
    wire::ErrorMsg e{static_cast<uint32_t>(c.sent.code()), static_cast<uint32_t>(c.sent.message().size())};
    f.payload.resize(sizeof e + c.sent.message().size());
    std::memcpy(f.payload.data(), &e, sizeof e);
    std::memcpy(f.payload.data() + sizeof e, c.sent.message().data(), c.sent.message().size());
    const Status got = StatusFromErrorFrame(f);
    EXPECT_EQ(got.code(), c.want) << got.ToString();
    EXPECT_TRUE(got.from_peer());
    EXPECT_EQ(got.message(), "memnode: " + c.sent.message());
  }
}

}  // namespace
}  // namespace respct
