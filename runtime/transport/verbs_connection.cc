#include "runtime/transport/verbs_connection.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <random>
#include <vector>

#include "runtime/transport/frame_socket.h"

namespace respct {
namespace {

constexpr uint32_t kSendQueueDepth = 256;
constexpr uint32_t kRecvQueueDepth = 16;
constexpr uint32_t kWantedInline = 256;
constexpr uint32_t kMaxReadDepth = 16;
constexpr uint64_t kRecvTag = 1ull << 63;
constexpr uint32_t kQpAddressMagic = 0x50514352;  // "RCQP"
// Long enough to catch the completions of a burst (an epoch's WRITEs, the
// commit reply on a fast link) without a sleep; short enough not to burn a
// core when the peer is slow.
constexpr auto kSpin = std::chrono::microseconds(20);
// Transport retries of a lost packet (7 is the maximum), and RNR retries
// "forever" (7): a SEND waits for the peer to post a receive instead of failing.
constexpr uint8_t kRetryCount = 7;
constexpr uint8_t kRnrRetryInfinite = 7;
constexpr uint8_t kAckTimeout = 14;  // 4.096 us * 2^14 = 67 ms per try
constexpr uint8_t kMinRnrTimer = 12;

void SetNonBlocking(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

Status WriteExact(int fd, const void* p, size_t n) {
  const auto* b = static_cast<const uint8_t*>(p);
  while (n > 0) {
    const ssize_t r = send(fd, b, n, MSG_NOSIGNAL);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return Status::Unavailable(std::string("connection setup: ") + std::strerror(errno));
    b += r;
    n -= static_cast<size_t>(r);
  }
  return Status::OK();
}

Status ReadExact(int fd, void* p, size_t n, int timeout_ms) {
  auto* b = static_cast<uint8_t*>(p);
  while (n > 0) {
    pollfd pf{fd, POLLIN, 0};
    const int rc = poll(&pf, 1, timeout_ms);
    if (rc < 0 && errno == EINTR) continue;
    if (rc == 0) return Status::Unavailable("connection setup: no answer within " + std::to_string(timeout_ms) + " ms");
    const ssize_t r = recv(fd, b, n, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r == 0) return Status::Unavailable("connection setup: peer closed the connection");
    if (r < 0) return Status::Unavailable(std::string("connection setup: ") + std::strerror(errno));
    b += r;
    n -= static_cast<size_t>(r);
  }
  return Status::OK();
}

// The RoCE GID of a local IP address: IPv4 as ::ffff:a.b.c.d, IPv6 as is.
ibv_gid GidOf(const sockaddr_storage& ss) {
  ibv_gid g{};
  if (ss.ss_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
    g.raw[10] = 0xff;
    g.raw[11] = 0xff;
    std::memcpy(g.raw + 12, &a->sin_addr, 4);
  } else {
    std::memcpy(g.raw, &reinterpret_cast<const sockaddr_in6*>(&ss)->sin6_addr, 16);
  }
  return g;
}

std::string AddressText(const sockaddr_storage& ss) {
  char buf[INET6_ADDRSTRLEN] = "?";
  if (ss.ss_family == AF_INET)
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&ss)->sin_addr, buf, sizeof buf);
  else
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&ss)->sin6_addr, buf, sizeof buf);
  return buf;
}

// Opens the device whose ACTIVE port has `want` as a RoCE GID (v2 preferred).
// NotFound when no device has it; Unavailable when its port is not ACTIVE.
Result<std::string> FindGid(const ibv_gid& want, ibv_context** ctx_out, uint8_t* port, uint32_t* gid_index,
                            ibv_mtu* mtu) {
  int devices = 0;
  ibv_device** list = ibv_get_device_list(&devices);
  Status result = Status::NotFound("no RDMA device has that GID");
  std::string name;
  for (int d = 0; d < devices && name.empty(); ++d) {
    ibv_context* ctx = ibv_open_device(list[d]);
    if (ctx == nullptr) continue;
    ibv_device_attr da{};
    std::vector<ibv_gid_entry> gids;
    if (ibv_query_device(ctx, &da) == 0) {
      gids.resize(size_t{da.phys_port_cnt} * 1024);
      const ssize_t n = ibv_query_gid_table(ctx, gids.data(), gids.size(), 0);
      gids.resize(n > 0 ? static_cast<size_t>(n) : 0);
    }
    const ibv_gid_entry* best = nullptr;
    for (const ibv_gid_entry& e : gids) {
      if (std::memcmp(e.gid.raw, want.raw, 16) != 0) continue;
      if (best == nullptr || e.gid_type == IBV_GID_TYPE_ROCE_V2) best = &e;
    }
    ibv_port_attr pa{};
    if (best != nullptr &&
        (ibv_query_port(ctx, static_cast<uint8_t>(best->port_num), &pa) != 0 || pa.state != IBV_PORT_ACTIVE)) {
      result = Status::Unavailable("RDMA port " + std::to_string(best->port_num) + " of " +
                                   ibv_get_device_name(list[d]) + " is " + ibv_port_state_str(pa.state));
      best = nullptr;
    }
    if (best == nullptr) {
      ibv_close_device(ctx);
      continue;
    }
    name = ibv_get_device_name(list[d]);
    *port = static_cast<uint8_t>(best->port_num);
    *gid_index = best->gid_index;
    if (mtu != nullptr) *mtu = pa.active_mtu;
    if (ctx_out != nullptr) {
      *ctx_out = ctx;
    } else {
      ibv_close_device(ctx);
    }
  }
  if (list != nullptr) ibv_free_device_list(list);
  if (name.empty()) return result;
  return name;
}

}  // namespace

Result<RdmaPortAddress> FindRdmaPort(const std::string& ip) {
  sockaddr_storage ss{};
  if (inet_pton(AF_INET, ip.c_str(), &reinterpret_cast<sockaddr_in*>(&ss)->sin_addr) == 1) {
    ss.ss_family = AF_INET;
  } else if (inet_pton(AF_INET6, ip.c_str(), &reinterpret_cast<sockaddr_in6*>(&ss)->sin6_addr) == 1) {
    ss.ss_family = AF_INET6;
  } else {
    return Status::InvalidArgument("not an IP address: " + ip);
  }
  RdmaPortAddress a;
  auto name = FindGid(GidOf(ss), nullptr, &a.port, &a.gid_index, nullptr);
  if (!name.ok()) return name.status();
  a.device = *name;
  return a;
}

Status CheckRdmaDevicePresent() {
  int devices = 0;
  ibv_device** list = ibv_get_device_list(&devices);
  if (list != nullptr) ibv_free_device_list(list);
  if (devices == 0) return Status::FailedPrecondition("no RDMA device on this host (ibv_devices lists none)");
  return Status::OK();
}

Result<std::unique_ptr<VerbsConnection>> VerbsConnection::Dial(const std::string& host, uint16_t port,
                                                               int timeout_ms) {
  RESPCT_RETURN_IF_ERROR(CheckRdmaDevicePresent());
  auto sock = FrameSocket::ConnectTcp(host, port, timeout_ms);
  if (!sock.ok()) {
    // The caller names the memnode; say only what went wrong:
    // "connect 127.0.0.1:7100: Connection refused" -> "connection refused".
    const Status& st = sock.status();
    if (st.code() == Status::Code::kInvalidArgument) return st.Annotate("address resolution failed");
    if (st.sys_errno() == 0) return st;
    std::string cause = std::strerror(st.sys_errno());
    cause[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(cause[0])));
    return Status::Unavailable(cause);
  }
  std::unique_ptr<VerbsConnection> c(new VerbsConnection());
  c->boot_fd_ = sock->Release();
  RESPCT_RETURN_IF_ERROR(c->Open());
  return c;
}

Result<std::unique_ptr<VerbsConnection>> VerbsConnection::ForAccepted(int fd) {
  std::unique_ptr<VerbsConnection> c(new VerbsConnection());
  c->boot_fd_ = fd;
  RESPCT_RETURN_IF_ERROR(c->Open());
  return c;
}

Status VerbsConnection::Open() {
  sockaddr_storage local{};
  socklen_t len = sizeof local;
  if (getsockname(boot_fd_, reinterpret_cast<sockaddr*>(&local), &len) != 0)
    return Status::FromErrno("getsockname", errno);
  const ibv_gid want = GidOf(local);

  auto found = FindGid(want, &ctx_, &port_num_, &gid_index_, &mtu_);
  if (!found.ok()) {
    if (found.status().IsNotFound())
      return Status::Unavailable("address resolution failed: no RDMA device has the local address " +
                                 AddressText(local) + " (no RoCE GID for it)");
    return found.status();
  }
  gid_ = want;

  ibv_device_attr da{};
  if (ibv_query_device(ctx_, &da) != 0) return Status::FromErrno("ibv_query_device", errno);
  pd_ = ibv_alloc_pd(ctx_);
  if (pd_ == nullptr) return Status::FromErrno("ibv_alloc_pd", errno);
  comp_ = ibv_create_comp_channel(ctx_);
  if (comp_ == nullptr) return Status::FromErrno("ibv_create_comp_channel", errno);
  SetNonBlocking(comp_->fd);
  cq_ = ibv_create_cq(ctx_, static_cast<int>(kSendQueueDepth + kRecvQueueDepth), nullptr, comp_, 0);
  if (cq_ == nullptr) return Status::FromErrno("ibv_create_cq", errno);

  ibv_qp_init_attr a{};
  a.send_cq = cq_;
  a.recv_cq = cq_;
  a.qp_type = IBV_QPT_RC;
  a.sq_sig_all = 0;
  a.cap.max_send_wr = kSendQueueDepth;
  a.cap.max_recv_wr = kRecvQueueDepth;
  a.cap.max_send_sge = 1;
  a.cap.max_recv_sge = 1;
  a.cap.max_inline_data = kWantedInline;
  qp_ = ibv_create_qp(pd_, &a);
  if (qp_ == nullptr) {
    // Devices without inline data refuse a non-zero request.
    a.cap.max_inline_data = 0;
    qp_ = ibv_create_qp(pd_, &a);
    if (qp_ == nullptr) return Status::FromErrno("ibv_create_qp", errno);
  }
  max_inline_ = a.cap.max_inline_data;
  sq_depth_ = a.cap.max_send_wr;
  read_depth_ = std::clamp<uint32_t>(static_cast<uint32_t>(da.max_qp_init_rd_atom), 1, kMaxReadDepth);
  responder_resources_ = std::clamp<uint32_t>(static_cast<uint32_t>(da.max_qp_rd_atom), 1, kMaxReadDepth);

  ibv_qp_attr init{};
  init.qp_state = IBV_QPS_INIT;
  init.pkey_index = 0;
  init.port_num = port_num_;
  init.qp_access_flags = IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_REMOTE_READ;
  if (ibv_modify_qp(qp_, &init, IBV_QP_STATE | IBV_QP_PKEY_INDEX | IBV_QP_PORT | IBV_QP_ACCESS_FLAGS) != 0)
    return Status::FromErrno("queue pair to INIT", errno);
  psn_ = std::random_device{}() & 0xffffff;
  wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) return Status::FromErrno("eventfd", errno);
  return Status::OK();
}

Status VerbsConnection::Establish(int timeout_ms) {
  QpAddress mine{kQpAddressMagic, qp_->qp_num, psn_, read_depth_, responder_resources_,
                 static_cast<uint32_t>(mtu_), {}};
  std::memcpy(mine.gid, gid_.raw, 16);
  RESPCT_RETURN_IF_ERROR(WriteExact(boot_fd_, &mine, sizeof mine));
  QpAddress peer{};
  RESPCT_RETURN_IF_ERROR(ReadExact(boot_fd_, &peer, sizeof peer, timeout_ms));
  if (peer.magic != kQpAddressMagic)
    return Status::Corruption("connection setup: the peer is not an rdma:// endpoint of respct");

  ibv_qp_attr rtr{};
  rtr.qp_state = IBV_QPS_RTR;
  rtr.path_mtu = std::min(mtu_, static_cast<ibv_mtu>(peer.mtu));
  rtr.dest_qp_num = peer.qpn;
  rtr.rq_psn = peer.psn;
  rtr.max_dest_rd_atomic = static_cast<uint8_t>(std::min(responder_resources_, std::max(1u, peer.initiator_depth)));
  rtr.min_rnr_timer = kMinRnrTimer;
  rtr.ah_attr.is_global = 1;
  std::memcpy(rtr.ah_attr.grh.dgid.raw, peer.gid, 16);
  rtr.ah_attr.grh.sgid_index = static_cast<uint8_t>(gid_index_);
  rtr.ah_attr.grh.hop_limit = 64;
  rtr.ah_attr.port_num = port_num_;
  if (ibv_modify_qp(qp_, &rtr,
                    IBV_QP_STATE | IBV_QP_AV | IBV_QP_PATH_MTU | IBV_QP_DEST_QPN | IBV_QP_RQ_PSN |
                        IBV_QP_MAX_DEST_RD_ATOMIC | IBV_QP_MIN_RNR_TIMER) != 0)
    return Status::FromErrno("queue pair to RTR", errno);
  ibv_qp_attr rts{};
  rts.qp_state = IBV_QPS_RTS;
  rts.timeout = kAckTimeout;
  rts.retry_cnt = kRetryCount;
  rts.rnr_retry = kRnrRetryInfinite;
  rts.sq_psn = psn_;
  read_depth_ = std::min(read_depth_, std::max(1u, peer.responder_resources));
  rts.max_rd_atomic = static_cast<uint8_t>(read_depth_);
  if (ibv_modify_qp(qp_, &rts,
                    IBV_QP_STATE | IBV_QP_TIMEOUT | IBV_QP_RETRY_CNT | IBV_QP_RNR_RETRY | IBV_QP_SQ_PSN |
                        IBV_QP_MAX_QP_RD_ATOMIC) != 0)
    return Status::FromErrno("queue pair to RTS", errno);
  // Both sides are at RTS only once both sent their address: a byte each
  // way confirms it, so nobody SENDs to a queue pair still in INIT.
  const uint8_t ready = 1;
  RESPCT_RETURN_IF_ERROR(WriteExact(boot_fd_, &ready, 1));
  uint8_t peer_ready = 0;
  RESPCT_RETURN_IF_ERROR(ReadExact(boot_fd_, &peer_ready, 1, timeout_ms));
  SetNonBlocking(boot_fd_);
  return Status::OK();
}

VerbsConnection::~VerbsConnection() {
  if (qp_ != nullptr) ibv_destroy_qp(qp_);
  if (cq_ != nullptr) ibv_destroy_cq(cq_);
  if (comp_ != nullptr) ibv_destroy_comp_channel(comp_);
  if (pd_ != nullptr) ibv_dealloc_pd(pd_);
  if (ctx_ != nullptr) ibv_close_device(ctx_);
  if (boot_fd_ >= 0) close(boot_fd_);
  if (wake_fd_ >= 0) close(wake_fd_);
}

Result<ibv_mr*> VerbsConnection::Register(void* addr, size_t len, int access, const std::string& what) {
  ibv_mr* mr = ibv_reg_mr(pd_, addr, len, access);
  if (mr == nullptr) return Status::FromErrno("register " + what + " (" + std::to_string(len) + " bytes) for RDMA", errno);
  return mr;
}

Status VerbsConnection::PostSend(ibv_send_wr* first, uint32_t count, const char* op, uint64_t* done) {
  if (count > sq_depth_) return Status::InvalidArgument("chain of work requests longer than the send queue");
  RESPCT_RETURN_IF_ERROR(WaitUntil([&] { return sq_inflight_ + count <= sq_depth_; }, -1));
  ibv_send_wr* bad = nullptr;
  const int rc = ibv_post_send(qp_, first, &bad);
  if (rc != 0) {
    Fail(Status::Unavailable(std::string("QP error: posting RDMA ") + op + " failed: " + std::strerror(rc)));
    return broken_;
  }
  sq_inflight_ += count;
  sq_chains_.push_back(SendChain{count, op, done});
  return Status::OK();
}

Status VerbsConnection::PostRecv(uint32_t slot, void* addr, uint32_t len, uint32_t lkey) {
  ibv_sge sge{reinterpret_cast<uint64_t>(addr), len, lkey};
  ibv_recv_wr wr{};
  wr.wr_id = kRecvTag | slot;
  wr.sg_list = &sge;
  wr.num_sge = 1;
  ibv_recv_wr* bad = nullptr;
  const int rc = ibv_post_recv(qp_, &wr, &bad);
  if (rc != 0) {
    Fail(Status::Unavailable(std::string("QP error: posting a receive failed: ") + std::strerror(rc)));
    return broken_;
  }
  return Status::OK();
}

bool VerbsConnection::PopReceived(Received* out) {
  if (received_.empty()) return false;
  *out = received_.front();
  received_.pop_front();
  return true;
}

void VerbsConnection::Fail(const Status& st) {
  if (broken_.ok()) broken_ = st;
}

void VerbsConnection::Complete(const ibv_wc& wc) {
  if ((wc.wr_id & kRecvTag) != 0) {
    if (wc.status == IBV_WC_SUCCESS) {
      received_.push_back(Received{static_cast<uint32_t>(wc.wr_id), wc.byte_len});
    } else if (wc.status == IBV_WC_WR_FLUSH_ERR) {
      Fail(Status::Unavailable(disconnected_ ? "connection shut down" : "connection closed by peer"));
    } else {
      Fail(Status::Unavailable(std::string("QP error: RDMA RECV failed: ") + ibv_wc_status_str(wc.status)));
    }
    return;
  }
  if (wc.status != IBV_WC_SUCCESS) {
    const char* op = sq_chains_.empty() ? "SEND" : sq_chains_.front().op;
    if (wc.status == IBV_WC_WR_FLUSH_ERR)
      Fail(Status::Unavailable(disconnected_ ? "connection shut down" : "connection closed by peer"));
    else
      Fail(Status::Unavailable(std::string("QP error: RDMA ") + op + " failed: " + ibv_wc_status_str(wc.status)));
    return;
  }
  // Only signalled requests complete successfully; each retires its chain.
  if (sq_chains_.empty()) return;
  const SendChain c = sq_chains_.front();
  sq_chains_.pop_front();
  sq_inflight_ -= c.count;
  ++*c.done;
}

void VerbsConnection::Drain() {
  ibv_wc wc[16];
  int n;
  while ((n = ibv_poll_cq(cq_, 16, wc)) > 0)
    for (int i = 0; i < n; ++i) Complete(wc[i]);
  if (n < 0) Fail(Status::IOError("ibv_poll_cq failed"));
}

void VerbsConnection::CheckBootstrap() {
  uint8_t b;
  const ssize_t r = recv(boot_fd_, &b, 1, MSG_DONTWAIT);
  if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
    Fail(Status::Unavailable(disconnected_ ? "connection shut down" : "connection closed by peer"));
}

Status VerbsConnection::WaitUntil(const std::function<bool()>& ready, int timeout_ms) {
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  for (;;) {
    Drain();
    if (ready()) return Status::OK();
    if (!broken_.ok()) return broken_;
    if (disconnected_) return Status::Unavailable("connection shut down");
    if (Clock::now() - start < kSpin) continue;
    // Idle: arm the completion channel, then look once more before sleeping
    // (a completion between the last poll and the arming raises no event).
    if (ibv_req_notify_cq(cq_, 0) != 0) return Status::IOError("ibv_req_notify_cq failed");
    Drain();
    if (ready()) return Status::OK();
    if (!broken_.ok()) return broken_;
    int wait_ms = -1;
    if (timeout_ms >= 0) {
      const auto spent = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
      if (spent >= timeout_ms)
        return Status::FromErrno("no reply from peer within " + std::to_string(timeout_ms) + " ms", ETIMEDOUT);
      wait_ms = static_cast<int>(timeout_ms - spent);
    }
    pollfd fds[3] = {{comp_->fd, POLLIN, 0}, {wake_fd_, POLLIN, 0}, {boot_fd_, POLLIN, 0}};
    const int rc = poll(fds, 3, wait_ms);
    if (rc < 0 && errno != EINTR) return Status::FromErrno("poll", errno);
    if (rc <= 0) continue;
    if (fds[0].revents & POLLIN) {
      ibv_cq* cq = nullptr;
      void* ctx = nullptr;
      if (ibv_get_cq_event(comp_, &cq, &ctx) == 0) ibv_ack_cq_events(cq, 1);
    }
    if (fds[2].revents & (POLLIN | POLLHUP | POLLERR)) CheckBootstrap();
  }
}

void VerbsConnection::Disconnect() {
  if (disconnected_.exchange(true)) return;
  // The peer sees end of stream on the bootstrap socket; our queue pair goes
  // to the error state, so posted requests flush.
  shutdown(boot_fd_, SHUT_RDWR);
  ibv_qp_attr err{};
  err.qp_state = IBV_QPS_ERR;
  if (qp_ != nullptr) ibv_modify_qp(qp_, &err, IBV_QP_STATE);
  const uint64_t one = 1;
  (void)!write(wake_fd_, &one, sizeof one);
}

}  // namespace respct
