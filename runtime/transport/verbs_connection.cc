#include "runtime/transport/verbs_connection.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

namespace respct {
namespace {

constexpr uint32_t kSendQueueDepth = 256;
constexpr uint32_t kRecvQueueDepth = 16;
constexpr uint32_t kWantedInline = 256;
constexpr uint32_t kMaxReadDepth = 16;
constexpr uint64_t kRecvTag = 1ull << 63;
// Long enough to catch the completions of a burst (an epoch's WRITEs, the
// commit reply on a fast link) without a sleep; short enough not to burn a
// core when the peer is slow.
constexpr auto kSpin = std::chrono::microseconds(20);
// rdma_cm retries a lost packet 7 times; 7 RNR retries means "forever":
// a SEND waits for the peer to post a receive instead of failing.
constexpr uint8_t kRetryCount = 7;
constexpr uint8_t kRnrRetryInfinite = 7;

void SetNonBlocking(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

// Waits for the next connection-manager event on `ch`, returns its type and
// status (the event is acknowledged).
Status NextCmEvent(rdma_event_channel* ch, int timeout_ms, rdma_cm_event_type* type, int* status) {
  pollfd p{ch->fd, POLLIN, 0};
  int rc;
  do {
    rc = poll(&p, 1, timeout_ms);
  } while (rc < 0 && errno == EINTR);
  if (rc < 0) return Status::FromErrno("poll", errno);
  if (rc == 0) return Status::Unavailable("timed out after " + std::to_string(timeout_ms) + " ms");
  rdma_cm_event* ev = nullptr;
  if (rdma_get_cm_event(ch, &ev) != 0) return Status::FromErrno("rdma_get_cm_event", errno);
  *type = ev->event;
  *status = ev->status;
  rdma_ack_cm_event(ev);
  return Status::OK();
}

Status ExpectCmEvent(rdma_event_channel* ch, int timeout_ms, rdma_cm_event_type want, const std::string& step) {
  rdma_cm_event_type type{};
  int status = 0;
  Status st = NextCmEvent(ch, timeout_ms, &type, &status);
  if (!st.ok()) return Status::Unavailable(step + ": " + st.message());
  if (type == want) return Status::OK();
  switch (type) {
    case RDMA_CM_EVENT_REJECTED: return Status::Unavailable("connection refused");
    case RDMA_CM_EVENT_UNREACHABLE: return Status::Unavailable("peer unreachable");
    case RDMA_CM_EVENT_ADDR_ERROR: return Status::Unavailable("address resolution failed (" + std::string(std::strerror(-status)) + ")");
    case RDMA_CM_EVENT_ROUTE_ERROR: return Status::Unavailable("route resolution failed (" + std::string(std::strerror(-status)) + ")");
    default:
      return Status::Unavailable(step + ": unexpected event " + rdma_event_str(type) + " (status " +
                                 std::to_string(status) + ")");
  }
}

}  // namespace

Result<std::unique_ptr<VerbsConnection>> VerbsConnection::Resolve(const std::string& host, uint16_t port,
                                                                  int timeout_ms) {
  int devices = 0;
  ibv_device** list = ibv_get_device_list(&devices);
  if (list != nullptr) ibv_free_device_list(list);
  if (devices == 0) return Status::FailedPrecondition("no RDMA device on this host (ibv_devices lists none)");

  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* res = nullptr;
  const int gai = getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res);
  if (gai != 0) return Status::InvalidArgument("resolve " + host + ": " + gai_strerror(gai));

  std::unique_ptr<VerbsConnection> c(new VerbsConnection());
  c->events_ = rdma_create_event_channel();
  if (c->events_ == nullptr) {
    freeaddrinfo(res);
    return Status::FromErrno("rdma_create_event_channel", errno);
  }
  if (rdma_create_id(c->events_, &c->id_, c.get(), RDMA_PS_TCP) != 0) {
    freeaddrinfo(res);
    return Status::FromErrno("rdma_create_id", errno);
  }
  const int rc = rdma_resolve_addr(c->id_, nullptr, res->ai_addr, timeout_ms);
  const int err = errno;
  freeaddrinfo(res);
  if (rc != 0) return Status::Unavailable("address resolution failed (" + std::string(std::strerror(err)) + ")");
  RESPCT_RETURN_IF_ERROR(ExpectCmEvent(c->events_, timeout_ms, RDMA_CM_EVENT_ADDR_RESOLVED, "address resolution"));

  ibv_port_attr pa{};
  if (ibv_query_port(c->id_->verbs, c->id_->port_num, &pa) != 0)
    return Status::FromErrno("ibv_query_port", errno);
  if (pa.state != IBV_PORT_ACTIVE)
    return Status::Unavailable("RDMA port " + std::to_string(c->id_->port_num) + " of " +
                               ibv_get_device_name(c->id_->verbs->device) + " is " + ibv_port_state_str(pa.state));

  if (rdma_resolve_route(c->id_, timeout_ms) != 0)
    return Status::Unavailable("route resolution failed (" + std::string(std::strerror(errno)) + ")");
  RESPCT_RETURN_IF_ERROR(ExpectCmEvent(c->events_, timeout_ms, RDMA_CM_EVENT_ROUTE_RESOLVED, "route resolution"));
  RESPCT_RETURN_IF_ERROR(c->CreateQueuePair(c->id_));
  return c;
}

Result<std::unique_ptr<VerbsConnection>> VerbsConnection::ForRequest(rdma_cm_id* id, const rdma_conn_param& request) {
  std::unique_ptr<VerbsConnection> c(new VerbsConnection());
  Status st = c->CreateQueuePair(id);
  c->id_ = id;  // owned from here on, also on failure
  if (!st.ok()) return st;
  c->conn_param_.responder_resources = std::min(c->conn_param_.responder_resources, request.initiator_depth);
  c->conn_param_.initiator_depth = std::min(c->conn_param_.initiator_depth, request.responder_resources);
  c->read_depth_ = std::max<uint32_t>(1, c->conn_param_.initiator_depth);
  return c;
}

Status VerbsConnection::CreateQueuePair(rdma_cm_id* id) {
  ibv_device_attr da{};
  if (ibv_query_device(id->verbs, &da) != 0) return Status::FromErrno("ibv_query_device", errno);
  pd_ = ibv_alloc_pd(id->verbs);
  if (pd_ == nullptr) return Status::FromErrno("ibv_alloc_pd", errno);
  comp_ = ibv_create_comp_channel(id->verbs);
  if (comp_ == nullptr) return Status::FromErrno("ibv_create_comp_channel", errno);
  SetNonBlocking(comp_->fd);
  cq_ = ibv_create_cq(id->verbs, static_cast<int>(kSendQueueDepth + kRecvQueueDepth), nullptr, comp_, 0);
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
  if (rdma_create_qp(id, pd_, &a) != 0) {
    // Devices without inline data refuse a non-zero request.
    a.cap.max_inline_data = 0;
    if (rdma_create_qp(id, pd_, &a) != 0) return Status::FromErrno("rdma_create_qp", errno);
  }
  max_inline_ = a.cap.max_inline_data;
  sq_depth_ = a.cap.max_send_wr;
  read_depth_ = std::clamp<uint32_t>(static_cast<uint32_t>(da.max_qp_init_rd_atom), 1, kMaxReadDepth);
  conn_param_.initiator_depth = static_cast<uint8_t>(read_depth_);
  conn_param_.responder_resources =
      static_cast<uint8_t>(std::clamp<uint32_t>(static_cast<uint32_t>(da.max_qp_rd_atom), 1, kMaxReadDepth));
  conn_param_.retry_count = kRetryCount;
  conn_param_.rnr_retry_count = kRnrRetryInfinite;
  wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) return Status::FromErrno("eventfd", errno);
  return Status::OK();
}

VerbsConnection::~VerbsConnection() {
  if (id_ != nullptr && id_->qp != nullptr) rdma_destroy_qp(id_);
  if (cq_ != nullptr) ibv_destroy_cq(cq_);
  if (comp_ != nullptr) ibv_destroy_comp_channel(comp_);
  if (pd_ != nullptr) ibv_dealloc_pd(pd_);
  if (id_ != nullptr) rdma_destroy_id(id_);
  if (events_ != nullptr) rdma_destroy_event_channel(events_);
  if (wake_fd_ >= 0) close(wake_fd_);
}

Status VerbsConnection::Connect(int timeout_ms) {
  if (rdma_connect(id_, &conn_param_) != 0) return Status::FromErrno("rdma_connect", errno);
  RESPCT_RETURN_IF_ERROR(ExpectCmEvent(events_, timeout_ms, RDMA_CM_EVENT_ESTABLISHED, "connect"));
  read_depth_ = std::max<uint32_t>(1, conn_param_.initiator_depth);
  // From now on events (a disconnect) are picked up by WaitUntil.
  SetNonBlocking(events_->fd);
  return Status::OK();
}

Status VerbsConnection::Accept() {
  if (rdma_accept(id_, &conn_param_) != 0) return Status::FromErrno("rdma_accept", errno);
  return Status::OK();
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
  const int rc = ibv_post_send(id_->qp, first, &bad);
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
  const int rc = ibv_post_recv(id_->qp, &wr, &bad);
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

void VerbsConnection::HandleCmEvents() {
  if (events_ == nullptr) return;
  rdma_cm_event* ev = nullptr;
  while (rdma_get_cm_event(events_, &ev) == 0) {
    const rdma_cm_event_type type = ev->event;
    rdma_ack_cm_event(ev);
    if (type == RDMA_CM_EVENT_DISCONNECTED) Fail(Status::Unavailable("connection closed by peer"));
    if (type == RDMA_CM_EVENT_DEVICE_REMOVAL) Fail(Status::Unavailable("RDMA device removed"));
  }
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
        return Status::Unavailable("no reply from peer within " + std::to_string(timeout_ms) + " ms");
      wait_ms = static_cast<int>(timeout_ms - spent);
    }
    pollfd fds[3] = {{comp_->fd, POLLIN, 0}, {wake_fd_, POLLIN, 0}, {events_ != nullptr ? events_->fd : -1, POLLIN, 0}};
    const int rc = poll(fds, 3, wait_ms);
    if (rc < 0 && errno != EINTR) return Status::FromErrno("poll", errno);
    if (rc <= 0) continue;
    if (fds[0].revents & POLLIN) {
      ibv_cq* cq = nullptr;
      void* ctx = nullptr;
      if (ibv_get_cq_event(comp_, &cq, &ctx) == 0) ibv_ack_cq_events(cq, 1);
    }
    if (fds[2].revents & POLLIN) HandleCmEvents();
  }
}

void VerbsConnection::Disconnect() {
  if (disconnected_.exchange(true)) return;
  // Moves the queue pair to the error state: posted requests flush and the
  // peer gets a disconnect request.
  if (id_ != nullptr) rdma_disconnect(id_);
  const uint64_t one = 1;
  (void)!write(wake_fd_, &one, sizeof one);
}

}  // namespace respct
