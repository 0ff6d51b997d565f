// HeldOutput without LD_PRELOAD: a real TCP connection over the loopback,
// recorded in a kernel-object table of the test's own, and the epochs driven
// by hand (EpochCaptured under "the pause", Committed as the replicator would).
// What the peer receives, and when, is the test.
#include "runtime/core/held_output.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include "runtime/kernel/epoll.h"
#include "runtime/kernel/kernel_objects.h"
#include "runtime/kernel/pipe.h"
#include "runtime/kernel/socket_record.h"

namespace respct::core {
namespace {

class HeldOutputTest : public testing::Test {
 protected:
  void SetUp() override {
    region_ = mmap(nullptr, kernel::KernelRegionBytes(), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ASSERT_NE(region_, MAP_FAILED);
    kernel_ = kernel::KernelObjects::CreateFresh(reinterpret_cast<uintptr_t>(region_));
    ASSERT_TRUE(kernel_ != nullptr);
    // client_ (held: a connected TCP socket, recorded as the program's) -> peer_.
    const int listener = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof a;
    ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&a), alen), 0);
    ASSERT_EQ(listen(listener, 1), 0);
    ASSERT_EQ(getsockname(listener, reinterpret_cast<sockaddr*>(&a), &alen), 0);
    client_ = socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_EQ(connect(client_, reinterpret_cast<sockaddr*>(&a), alen), 0);
    peer_ = accept(listener, nullptr, nullptr);
    ASSERT_GE(peer_, 0);
    close(listener);
    kernel::RecordSocket(&kernel_->table(), client_, AF_INET, SOCK_STREAM, 0);
    kernel::RecordConnect(&kernel_->table(), client_, reinterpret_cast<sockaddr*>(&a), alen);
  }
  void TearDown() override {
    held_.reset();
    if (client_ >= 0) close(client_);
    if (peer_ >= 0) close(peer_);
    kernel_.reset();
    if (region_ != MAP_FAILED) munmap(region_, kernel::KernelRegionBytes());
  }

  void Start(size_t fd_bound = 4u << 20) {
    HeldOutputOptions o;
    o.fd_bound = fd_bound;
    held_ = std::make_unique<HeldOutput>(o, kernel_.get(), [this] { ++rounds_asked_; });
    ASSERT_TRUE(held_->Start(1).ok());
  }

  // As the interposed call does it: Holds, then Hold (kNotHeld if not held).
  static constexpr ssize_t kNotHeld = -100;
  ssize_t Send(const std::string& s) {
    if (!held_->Holds(client_)) return kNotHeld;
    const iovec v{const_cast<char*>(s.data()), s.size()};
    return held_->Hold(client_, &v, 1, nullptr, 0);
  }

  // What the peer receives within `ms` (all of it that arrives by then).
  std::string Receive(int ms) {
    std::string got;
    for (;;) {
      pollfd p{peer_, POLLIN, 0};
      if (poll(&p, 1, ms) <= 0) return got;
      char buf[4096];
      const ssize_t n = read(peer_, buf, sizeof buf);
      if (n <= 0) return got + (n == 0 ? "<EOF>" : "<ERR>");
      got.append(buf, static_cast<size_t>(n));
      ms = 50;  // the rest follows quickly
    }
  }

  void* region_ = MAP_FAILED;
  std::unique_ptr<kernel::KernelObjects> kernel_;
  std::unique_ptr<HeldOutput> held_;
  std::atomic<int> rounds_asked_{0};
  int client_ = -1, peer_ = -1;
};

TEST_F(HeldOutputTest, BytesWaitForTheCommitOfTheirEpochInOrder) {
  Start();
  ASSERT_TRUE(held_->Holds(client_));
  EXPECT_EQ(Send("one,"), 4);
  EXPECT_EQ(Send("two,"), 4);
  held_->EpochCaptured(1);  // what follows belongs to epoch 2
  EXPECT_EQ(Send("three"), 5);
  EXPECT_EQ(Receive(100), "") << "sent before any commit";
  held_->Committed(1);
  EXPECT_EQ(Receive(2000), "one,two,") << "epoch 1's bytes, and only those";
  held_->EpochCaptured(2);
  held_->Committed(2);
  EXPECT_EQ(Receive(2000), "three");
  const HeldOutputStats s = held_->Stats();
  EXPECT_EQ(s.calls_held, 3u);
  EXPECT_EQ(s.bytes_held, 13u);
  EXPECT_EQ(s.samples, 3u);
}

TEST_F(HeldOutputTest, AnEarlyRoundIsAskedForOncePerEpoch) {
  Start();
  Send("a");
  Send("b");
  EXPECT_EQ(rounds_asked_.load(), 1);
  held_->EpochCaptured(1);
  Send("c");
  EXPECT_EQ(rounds_asked_.load(), 2);
  EXPECT_EQ(held_->Stats().early_epochs, 2u);
}

// Beyond the bound a call waits for room, non-blocking socket or not (an
// EAGAIN the kernel's readiness would contradict: held_output.h).
TEST_F(HeldOutputTest, BeyondTheBoundACallWaitsForRoom) {
  Start(1000);
  const int fl = fcntl(client_, F_GETFL);
  ASSERT_EQ(fcntl(client_, F_SETFL, fl | O_NONBLOCK), 0);
  const std::string kb(800, 'x');
  EXPECT_EQ(Send(kb), 800);
  EXPECT_EQ(Send(kb), HeldOutput::kMustWait);
  held_->EpochCaptured(1);
  held_->Committed(1);
  held_->WaitForRoom(client_);  // returns once the 800 bytes are out
  EXPECT_EQ(Send(kb), 800);
  EXPECT_EQ(held_->Stats().waits, 1u);
}

TEST_F(HeldOutputTest, CloseAndShutdownGoOutAfterTheBytes) {
  Start();
  Send("last words");
  ASSERT_TRUE(held_->HoldShutdown(client_, SHUT_WR));
  ASSERT_TRUE(held_->HoldClose(client_));
  close(client_);  // the program's close: the number is free at once
  client_ = -1;
  EXPECT_EQ(Receive(100), "") << "the close went ahead of the held bytes";
  held_->EpochCaptured(1);
  held_->Committed(1);
  EXPECT_EQ(Receive(2000), "last words<EOF>");
}

// The duplicate that carries a held close must not keep the descriptor in
// the program's epoll sets: epoll would go on reporting the closed number.
TEST_F(HeldOutputTest, AHeldCloseTakesTheDescriptorOutOfEpollSetsAtOnce) {
  Start();
  const int ep = epoll_create1(EPOLL_CLOEXEC);
  ASSERT_GE(ep, 0);
  kernel::RecordEpollCreate(&kernel_->table(), ep, EPOLL_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLOUT;
  ev.data.fd = client_;
  ASSERT_EQ(epoll_ctl(ep, EPOLL_CTL_ADD, client_, &ev), 0);
  epoll_event got{};
  ASSERT_EQ(epoll_wait(ep, &got, 1, 0), 1) << "the socket is writable";
  Send("bytes");
  ASSERT_TRUE(held_->HoldClose(client_));
  close(client_);
  client_ = -1;
  EXPECT_EQ(epoll_wait(ep, &got, 1, 0), 0) << "epoll still reports the closed descriptor";
  held_->EpochCaptured(1);
  held_->Committed(1);
  EXPECT_EQ(Receive(2000), "bytes<EOF>");
  close(ep);
}

TEST_F(HeldOutputTest, APeerThatResetEndsTheQueueAndTheKernelReportsIt) {
  Start();
  linger l{1, 0};
  setsockopt(peer_, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  close(peer_);  // RST
  peer_ = -1;
  usleep(20'000);
  ASSERT_EQ(Send("nobody reads this"), 17);
  held_->EpochCaptured(1);
  held_->Committed(1);
  for (int i = 0; i < 200 && held_->Holds(client_); ++i) usleep(10'000);
  EXPECT_FALSE(held_->Holds(client_)) << "the queue of a reset connection still holds";
  EXPECT_EQ(held_->Stats().reset, 1u);
  EXPECT_LT(send(client_, "x", 1, MSG_NOSIGNAL), 0) << "the program's next call did not meet the reset";
}

TEST_F(HeldOutputTest, PipesTheProgramMadeAndUnrecordedDescriptorsPassThrough) {
  Start();
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  kernel::RecordPipe(&kernel_->table(), p, 0);
  EXPECT_FALSE(held_->Holds(p[1]));
  const int devnull = open("/dev/null", O_WRONLY);
  EXPECT_FALSE(held_->Holds(devnull)) << "a descriptor with no record";
  close(p[0]);
  close(p[1]);
  close(devnull);
}

}  // namespace
}  // namespace respct::core
