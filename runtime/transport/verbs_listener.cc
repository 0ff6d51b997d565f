#include "runtime/transport/verbs_listener.h"

#include <fcntl.h>
#include <netdb.h>

#include <cerrno>
#include <cstring>

namespace respct {

Result<std::unique_ptr<VerbsListener>> VerbsListener::Listen(const std::string& host, uint16_t port) {
  int devices = 0;
  ibv_device** list = ibv_get_device_list(&devices);
  if (list != nullptr) ibv_free_device_list(list);
  if (devices == 0) return Status::FailedPrecondition("no RDMA device on this host (ibv_devices lists none)");

  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  const int gai = getaddrinfo(host == "*" ? nullptr : host.c_str(), std::to_string(port).c_str(), &hints, &res);
  if (gai != 0) return Status::InvalidArgument(std::string("resolve ") + host + ": " + gai_strerror(gai));

  std::unique_ptr<VerbsListener> l(new VerbsListener());
  l->events_ = rdma_create_event_channel();
  if (l->events_ == nullptr) {
    freeaddrinfo(res);
    return Status::FromErrno("rdma_create_event_channel", errno);
  }
  fcntl(l->events_->fd, F_SETFL, fcntl(l->events_->fd, F_GETFL) | O_NONBLOCK);
  if (rdma_create_id(l->events_, &l->id_, nullptr, RDMA_PS_TCP) != 0) {
    freeaddrinfo(res);
    return Status::FromErrno("rdma_create_id", errno);
  }
  const int rc = rdma_bind_addr(l->id_, res->ai_addr);
  const int err = errno;
  freeaddrinfo(res);
  if (rc != 0) return Status::FromErrno("bind", err);
  if (rdma_listen(l->id_, 128) != 0) return Status::FromErrno("rdma_listen", errno);
  return l;
}

VerbsListener::~VerbsListener() {
  if (id_ != nullptr) rdma_destroy_id(id_);
  if (events_ != nullptr) rdma_destroy_event_channel(events_);
}

Result<std::unique_ptr<VerbsChannel>> VerbsListener::HandleEvent() {
  rdma_cm_event* ev = nullptr;
  if (rdma_get_cm_event(events_, &ev) != 0) {
    if (errno == EAGAIN) return std::unique_ptr<VerbsChannel>();
    return Status::FromErrno("rdma_get_cm_event", errno);
  }
  const rdma_cm_event_type type = ev->event;
  rdma_cm_id* id = ev->id;
  const rdma_conn_param request = ev->param.conn;
  // Acknowledged first: destroying `id` (a failed accept) waits for its events' acks.
  rdma_ack_cm_event(ev);
  switch (type) {
    case RDMA_CM_EVENT_CONNECT_REQUEST: {
      auto ch = VerbsChannel::Accept(id, request);
      if (!ch.ok()) return ch.status().Annotate("accepting an rdma:// connection");
      return std::move(*ch);
    }
    case RDMA_CM_EVENT_DISCONNECTED:
      // The peer left: our side of the queue pair goes to the error state,
      // which flushes its receives and wakes the session thread waiting on it.
      rdma_disconnect(id);
      break;
    default:
      break;
  }
  return std::unique_ptr<VerbsChannel>();
}

}  // namespace respct
