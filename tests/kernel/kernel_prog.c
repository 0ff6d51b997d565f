/* kernel_prog: sets up one of every kernel object respct recreates, says
 * "ready", then waits until the file GO exists. Run under respct-run, killed
 * with kill -9 once an epoch past "ready" has committed, and resumed by
 * respct-recover after the test created GO, it checks that every object
 * behaves as it did and prints one line per property and a verdict:
 *
 *   kernel_prog DIR [inotify]
 *     DIR       a scratch directory (files, cwd); GO is DIR/go
 *     inotify   also hold an inotify descriptor, which respct cannot recreate
 *   stdout:  "kernel_prog: ready"                  (first run)
 *            "kernel_prog: ok NAME" / "kernel_prog: FAIL NAME: why" (resumed)
 *            "kernel_prog: verdict ok" / "kernel_prog: verdict FAIL n"
 *
 * Single-threaded on purpose: every descriptor number and value it checks
 * lives in globals and on the main thread's stack, restored with the image.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>

#define DATA_EVENTFD 0x1111222233334444ull
#define DATA_SOCKPAIR 0x5555666677778888ull
#define DATA_LISTENER 0x99990000aaaabbbbull

static volatile sig_atomic_t g_usr1;
static int g_failures;
static char g_dir[512];

static void on_usr1(int sig) {
  (void)sig;
  g_usr1++;
}

static void say(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char* fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  dprintf(1, "kernel_prog: %s\n", buf);
}

static void check(int ok, const char* name, const char* fmt, ...) __attribute__((format(printf, 3, 4)));
static void check(int ok, const char* name, const char* fmt, ...) {
  if (ok) {
    say("ok %s", name);
    return;
  }
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  g_failures++;
  say("FAIL %s: %s (errno %d %s)", name, buf, errno, strerror(errno));
}

static int die(const char* what) {
  dprintf(1, "kernel_prog: setup failed: %s: %s\n", what, strerror(errno));
  return 1;
}

/* What an fd was at "ready": numbers, flags and what /proc calls it. */
struct fd_fact {
  const char* name;
  int fd;
  int status_flags;  /* O_NONBLOCK | O_APPEND | O_ACCMODE */
  int fd_flags;
  char link[64];     /* /proc/self/fd link, cut before '[' for sockets and pipes (their inode changes) */
};

static void link_of(int fd, char* out, size_t n) {
  char p[64], buf[256];
  snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
  ssize_t l = readlink(p, buf, sizeof buf - 1);
  if (l < 0) l = 0;
  buf[l] = '\0';
  /* pipe:[123] and socket:[456] name the inode, new after recovery. */
  if (strncmp(buf, "pipe:", 5) == 0 || strncmp(buf, "socket:", 7) == 0) *strchr(buf, ':') = '\0';
  snprintf(out, n, "%.*s", (int)n - 1, buf);
}

static void fact(struct fd_fact* f, const char* name, int fd) {
  f->name = name;
  f->fd = fd;
  const int fl = fcntl(fd, F_GETFL);
  f->status_flags = fl < 0 ? -1 : (fl & (O_NONBLOCK | O_APPEND | O_ACCMODE));
  f->fd_flags = fcntl(fd, F_GETFD);
  link_of(fd, f->link, sizeof f->link);
}

/* /proc/self/fdinfo/FD into buf (NUL-terminated); 0 if it cannot be read. */
static int read_fdinfo(int fd, char* buf, size_t size) {
  char p[64];
  snprintf(p, sizeof p, "/proc/self/fdinfo/%d", fd);
  const int f = open(p, O_RDONLY | O_CLOEXEC);
  if (f < 0) return 0;
  const ssize_t n = read(f, buf, size - 1);
  close(f);
  if (n <= 0) return 0;
  buf[n] = '\0';
  return 1;
}

/* Whether /proc/self/fdinfo/FD contains `needle`. */
static int fdinfo_has(int fd, const char* needle) {
  char buf[4096];
  return read_fdinfo(fd, buf, sizeof buf) && strstr(buf, needle) != NULL;
}

/* The entry of `tfd` in epoll set `ep` as /proc/self/fdinfo shows it. */
static int epoll_entry(int ep, int tfd, uint32_t* events, uint64_t* data) {
  char buf[8192];
  if (!read_fdinfo(ep, buf, sizeof buf)) return 0;
  for (char* line = strtok(buf, "\n"); line != NULL; line = strtok(NULL, "\n")) {
    int fd;
    unsigned ev;
    unsigned long long d;
    if (sscanf(line, "tfd: %d events: %x data: %llx", &fd, &ev, &d) == 3 && fd == tfd) {
      *events = ev;
      *data = d;
      return 1;
    }
  }
  *events = 0;
  *data = 0;
  return 0;
}

static int readable_within(int fd, int ms) {
  struct pollfd p = {.fd = fd, .events = POLLIN};
  return poll(&p, 1, ms) == 1 && (p.revents & POLLIN) != 0;
}

static uint16_t port_of(int fd) {
  struct sockaddr_in a;
  socklen_t l = sizeof a;
  memset(&a, 0, sizeof a);
  if (getsockname(fd, (struct sockaddr*)&a, &l) != 0) return 0;
  return ntohs(a.sin_port);
}

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: kernel_prog DIR\n");
    return 2;
  }
  snprintf(g_dir, sizeof g_dir, "%s", argv[1]);
  char go[600], data_path[600], log_path[600];
  snprintf(go, sizeof go, "%s/go", g_dir);

  /* ---- process attributes ---- */
  if (chdir(g_dir) != 0) return die("chdir");
  umask(027);
  struct rlimit nofile;
  getrlimit(RLIMIT_NOFILE, &nofile);
  const rlim_t want_nofile = nofile.rlim_max < 4000 ? nofile.rlim_max : 4000;
  nofile.rlim_cur = want_nofile;
  if (setrlimit(RLIMIT_NOFILE, &nofile) != 0) return die("setrlimit NOFILE");
  struct rlimit core;
  getrlimit(RLIMIT_CORE, &core);
  const rlim_t want_core = core.rlim_max < 123456 ? core.rlim_max : 123456;
  core.rlim_cur = want_core;
  if (setrlimit(RLIMIT_CORE, &core) != 0) return die("setrlimit CORE");

  /* ---- signals ---- */
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_usr1;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  sigaddset(&sa.sa_mask, SIGTERM);
  if (sigaction(SIGUSR1, &sa, NULL) != 0) return die("sigaction USR1");
  signal(SIGPIPE, SIG_IGN);

  /* ---- regular files ---- */
  snprintf(data_path, sizeof data_path, "%s/data", g_dir);
  snprintf(log_path, sizeof log_path, "%s/log", g_dir);
  {
    const int w = open(data_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (w < 0 || write(w, "0123456789abcdef", 16) != 16) return die("data file");
    close(w);
  }
  const int file_fd = open(data_path, O_RDWR);
  if (file_fd < 0 || lseek(file_fd, 6, SEEK_SET) != 6) return die("open data");
  const int file_dup = dup(file_fd);
  if (file_dup < 0) return die("dup");
  const int log_fd = open("log", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);  /* relative to the cwd */
  if (log_fd < 0 || write(log_fd, "A", 1) != 1) return die("log file");

  /* ---- pipe, socketpair ---- */
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_NONBLOCK) != 0) return die("pipe");
  if (write(pipe_fds[1], "pipe-bytes-123", 14) != 14) return die("pipe write");
  int sp[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) != 0) return die("socketpair");
  if (write(sp[0], "sp-to-1", 7) != 7 || write(sp[1], "sp-to-0!", 8) != 8) return die("socketpair write");

  /* ---- eventfd, timerfd, signalfd ---- */
  const int efd = eventfd(7, EFD_NONBLOCK | EFD_CLOEXEC);
  if (efd < 0) return die("eventfd");
  const uint64_t five = 5;
  if (write(efd, &five, 8) != 8) return die("eventfd write");
  const int efd_sem = eventfd(3, EFD_SEMAPHORE | EFD_NONBLOCK);
  if (efd_sem < 0) return die("eventfd semaphore");
  const int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
  if (tfd < 0) return die("timerfd");
  struct itimerspec its = {.it_interval = {0, 200 * 1000 * 1000}, .it_value = {0, 200 * 1000 * 1000}};
  if (timerfd_settime(tfd, 0, &its, NULL) != 0) return die("timerfd_settime");
  sigset_t winch;
  sigemptyset(&winch);
  sigaddset(&winch, SIGWINCH);
  sigaddset(&winch, SIGURG);
  if (sigprocmask(SIG_BLOCK, &winch, NULL) != 0) return die("sigprocmask");
  const int sfd = signalfd(-1, &winch, SFD_NONBLOCK);
  if (sfd < 0) return die("signalfd");

  /* ---- sockets ---- */
  const int lsn = socket(AF_INET, SOCK_STREAM, 0);
  if (lsn < 0) return die("socket tcp");
  const int one = 1;
  setsockopt(lsn, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in any = {.sin_family = AF_INET, .sin_port = 0, .sin_addr = {htonl(INADDR_LOOPBACK)}};
  if (bind(lsn, (struct sockaddr*)&any, sizeof any) != 0 || listen(lsn, 16) != 0) return die("tcp listen");
  const uint16_t tcp_port = port_of(lsn);
  const int udp = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  if (udp < 0 || bind(udp, (struct sockaddr*)&any, sizeof any) != 0) return die("udp bind");
  const uint16_t udp_port = port_of(udp);

  /* ---- epoll ---- */
  const int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) return die("epoll_create1");
  struct epoll_event ev;
  ev.events = EPOLLIN | EPOLLET;
  ev.data.u64 = DATA_EVENTFD;
  if (epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev) != 0) return die("epoll_ctl eventfd");
  ev.events = EPOLLIN | EPOLLONESHOT;
  ev.data.u64 = DATA_SOCKPAIR;
  if (epoll_ctl(ep, EPOLL_CTL_ADD, sp[1], &ev) != 0) return die("epoll_ctl socketpair");
  ev.events = EPOLLIN;
  ev.data.u64 = DATA_LISTENER;
  if (epoll_ctl(ep, EPOLL_CTL_ADD, lsn, &ev) != 0) return die("epoll_ctl listener");

  /* ---- memfd ---- */
  const int mfd = memfd_create("respct-kernel-test", MFD_CLOEXEC);
  if (mfd < 0 || write(mfd, "memfd-content", 13) != 13 || ftruncate(mfd, 8192) != 0) return die("memfd");

  if (argc > 2 && strcmp(argv[2], "inotify") == 0) {
    const int in = inotify_init1(IN_CLOEXEC);
    if (in < 0 || inotify_add_watch(in, g_dir, IN_CREATE) < 0) return die("inotify");
    say("inotify fd=%d", in);
  }

  struct fd_fact facts[16];
  int nfacts = 0;
  fact(&facts[nfacts++], "file", file_fd);
  fact(&facts[nfacts++], "file-dup", file_dup);
  fact(&facts[nfacts++], "append-file", log_fd);
  fact(&facts[nfacts++], "pipe-read", pipe_fds[0]);
  fact(&facts[nfacts++], "pipe-write", pipe_fds[1]);
  fact(&facts[nfacts++], "socketpair-0", sp[0]);
  fact(&facts[nfacts++], "socketpair-1", sp[1]);
  fact(&facts[nfacts++], "eventfd", efd);
  fact(&facts[nfacts++], "eventfd-sem", efd_sem);
  fact(&facts[nfacts++], "timerfd", tfd);
  fact(&facts[nfacts++], "signalfd", sfd);
  fact(&facts[nfacts++], "tcp-listener", lsn);
  fact(&facts[nfacts++], "udp", udp);
  fact(&facts[nfacts++], "epoll", ep);
  fact(&facts[nfacts++], "memfd", mfd);

  say("ready tcp_port=%u udp_port=%u", tcp_port, udp_port);
  while (access(go, F_OK) != 0) usleep(10 * 1000);

  /* ======== resumed (or never killed): check everything ======== */
  say("checking");
  for (int i = 0; i < nfacts; ++i) {
    const struct fd_fact* f = &facts[i];
    struct fd_fact now;
    fact(&now, f->name, f->fd);
    char name[64];
    snprintf(name, sizeof name, "fd-%s", f->name);
    check(now.status_flags == f->status_flags && now.fd_flags == f->fd_flags && strcmp(now.link, f->link) == 0, name,
          "fd %d: status flags %#x fd flags %d '%s', was %#x %d '%s'", f->fd, now.status_flags, now.fd_flags,
          now.link, f->status_flags, f->fd_flags, f->link);
  }

  /* process attributes */
  {
    char cwd[600];
    check(getcwd(cwd, sizeof cwd) != NULL && strcmp(cwd, g_dir) == 0, "cwd", "cwd '%s', was '%s'", cwd, g_dir);
    const mode_t m = umask(027);
    check(m == 027, "umask", "umask %03o, was 027", (unsigned)m);
    struct rlimit r;
    getrlimit(RLIMIT_NOFILE, &r);
    check(r.rlim_cur == want_nofile, "rlimit-nofile", "RLIMIT_NOFILE soft %llu, was %llu",
          (unsigned long long)r.rlim_cur, (unsigned long long)want_nofile);
    getrlimit(RLIMIT_CORE, &r);
    check(r.rlim_cur == want_core, "rlimit-core", "RLIMIT_CORE soft %llu, was %llu", (unsigned long long)r.rlim_cur,
          (unsigned long long)want_core);
  }

  /* signals */
  {
    struct sigaction old;
    memset(&old, 0, sizeof old);
    sigaction(SIGUSR1, NULL, &old);
    check(old.sa_handler == on_usr1 && (old.sa_flags & SA_RESTART) != 0 && sigismember(&old.sa_mask, SIGTERM) == 1,
          "sigaction-usr1", "handler %p flags %#x, was %p SA_RESTART with SIGTERM masked", (void*)old.sa_handler,
          (unsigned)old.sa_flags, (void*)on_usr1);
    g_usr1 = 0;
    raise(SIGUSR1);
    check(g_usr1 == 1, "handler-runs", "SIGUSR1 handler ran %d times", (int)g_usr1);
    sigaction(SIGPIPE, NULL, &old);
    check(old.sa_handler == SIG_IGN, "sigpipe-ignored", "SIGPIPE disposition %p", (void*)old.sa_handler);
    int p[2];
    if (pipe(p) == 0) {
      close(p[0]);
      errno = 0;
      const ssize_t w = write(p[1], "x", 1);
      check(w < 0 && errno == EPIPE, "sigpipe-epipe", "write to a closed pipe: %zd", w);
      close(p[1]);
    }
    sigset_t cur;
    sigprocmask(SIG_BLOCK, NULL, &cur);
    check(sigismember(&cur, SIGWINCH) == 1 && sigismember(&cur, SIGURG) == 1, "sigmask",
          "SIGWINCH/SIGURG no longer blocked in the main thread");
  }

  /* epoll, before anything reads the objects it watches */
  {
    uint32_t events = 0;
    uint64_t data = 0;
    const uint32_t always = EPOLLERR | EPOLLHUP;  /* the kernel adds them to every entry */
    check(epoll_entry(ep, efd, &events, &data) && (events & ~always) == (EPOLLIN | EPOLLET) && data == DATA_EVENTFD,
          "epoll-entry-eventfd", "entry of fd %d: events %#x data %#llx", efd, events, (unsigned long long)data);
    check(epoll_entry(ep, sp[1], &events, &data) && (events & ~always) == (EPOLLIN | EPOLLONESHOT) &&
              data == DATA_SOCKPAIR,
          "epoll-entry-socketpair", "entry of fd %d: events %#x data %#llx", sp[1], events, (unsigned long long)data);
    check(epoll_entry(ep, lsn, &events, &data) && (events & ~always) == EPOLLIN && data == DATA_LISTENER,
          "epoll-entry-listener", "entry of fd %d: events %#x data %#llx", lsn, events, (unsigned long long)data);
    struct epoll_event out[8];
    int n = epoll_wait(ep, out, 8, 1000);
    int saw_e = 0, saw_s = 0, saw_l = 0;
    for (int i = 0; i < n; ++i) {
      saw_e += out[i].data.u64 == DATA_EVENTFD;
      saw_s += out[i].data.u64 == DATA_SOCKPAIR;
      saw_l += out[i].data.u64 == DATA_LISTENER;
    }
    check(n == 2 && saw_e == 1 && saw_s == 1, "epoll-ready", "%d events (eventfd %d, socketpair %d, listener %d)", n,
          saw_e, saw_s, saw_l);
    n = epoll_wait(ep, out, 8, 0);
    check(n == 0, "epoll-et-oneshot", "a second epoll_wait reported %d events (EPOLLET/EPOLLONESHOT lost?)", n);
  }

  /* regular files */
  {
    check(lseek(file_fd, 0, SEEK_CUR) == 6, "file-offset", "offset %lld, was 6", (long long)lseek(file_fd, 0, SEEK_CUR));
    char b[4] = {0};
    check(read(file_fd, b, 2) == 2 && memcmp(b, "67", 2) == 0, "file-read", "read '%s'", b);
    check(lseek(file_dup, 0, SEEK_CUR) == 8, "dup-shares-offset", "the dup's offset %lld after reading 2 at 6",
          (long long)lseek(file_dup, 0, SEEK_CUR));
    lseek(log_fd, 0, SEEK_SET);
    check(write(log_fd, "B", 1) == 1, "append-write", "write");
    char l[8] = {0};
    const int r = open(log_path, O_RDONLY);
    const ssize_t got = r >= 0 ? read(r, l, sizeof l - 1) : -1;
    if (r >= 0) close(r);
    check(got == 2 && strcmp(l, "AB") == 0, "append-appends", "log holds '%s'", l);
  }

  /* pipe */
  {
    char b[32] = {0};
    const ssize_t n = read(pipe_fds[0], b, sizeof b - 1);
    check(n == 14 && memcmp(b, "pipe-bytes-123", 14) == 0, "pipe-buffered", "read %zd '%s'", n, b);
    check(write(pipe_fds[1], "z", 1) == 1 && read(pipe_fds[0], b, 1) == 1 && b[0] == 'z', "pipe-works",
          "the ends are not one pipe");
  }

  /* socketpair */
  {
    char b[32] = {0};
    ssize_t n = read(sp[1], b, sizeof b - 1);
    check(n == 7 && memcmp(b, "sp-to-1", 7) == 0, "socketpair-buffered-1", "read %zd '%s'", n, b);
    memset(b, 0, sizeof b);
    n = read(sp[0], b, sizeof b - 1);
    check(n == 8 && memcmp(b, "sp-to-0!", 8) == 0, "socketpair-buffered-0", "read %zd '%s'", n, b);
    check(write(sp[0], "q", 1) == 1 && readable_within(sp[1], 1000) && read(sp[1], b, 1) == 1 && b[0] == 'q',
          "socketpair-works", "the ends are not connected");
  }

  /* eventfd */
  {
    uint64_t v = 0;
    check(read(efd, &v, 8) == 8 && v == 12, "eventfd-count", "counter %llu, was 12", (unsigned long long)v);
    int reads = 0;
    while (read(efd_sem, &v, 8) == 8 && v == 1 && reads < 10) reads++;
    check(reads == 3 && errno == EAGAIN, "eventfd-semaphore", "%d reads of 1, was a semaphore of 3", reads);
  }

  /* timerfd */
  {
    struct itimerspec cur;
    memset(&cur, 0, sizeof cur);
    timerfd_gettime(tfd, &cur);
    check(cur.it_interval.tv_sec == 0 && cur.it_interval.tv_nsec == 200 * 1000 * 1000, "timerfd-interval",
          "interval %lld.%09ld", (long long)cur.it_interval.tv_sec, cur.it_interval.tv_nsec);
    uint64_t v = 0;
    check(readable_within(tfd, 2000) && read(tfd, &v, 8) == 8 && v >= 1, "timerfd-fires", "no expiry in 2 s");
    v = 0;
    check(readable_within(tfd, 2000) && read(tfd, &v, 8) == 8 && v >= 1, "timerfd-fires-again",
          "no second expiry in 2 s (interval lost)");
  }

  /* signalfd */
  {
    check(fdinfo_has(sfd, "sigmask:\t0000000008400000"),
          "signalfd-mask-fdinfo", "fdinfo has another mask");
    sigprocmask(SIG_BLOCK, &winch, NULL);  /* whatever the thread's mask became */
    kill(getpid(), SIGWINCH);
    struct signalfd_siginfo si;
    memset(&si, 0, sizeof si);
    check(readable_within(sfd, 2000) && read(sfd, &si, sizeof si) == sizeof si && si.ssi_signo == SIGWINCH,
          "signalfd-delivers", "signal %u", si.ssi_signo);
  }

  /* tcp listener, udp */
  {
    check(port_of(lsn) == tcp_port, "tcp-port", "listens on %u, was %u", port_of(lsn), tcp_port);
    const int c = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(tcp_port), .sin_addr = {htonl(INADDR_LOOPBACK)}};
    const int connected = c >= 0 && connect(c, (struct sockaddr*)&to, sizeof to) == 0;
    check(connected, "tcp-connect", "connect to 127.0.0.1:%u", tcp_port);
    struct epoll_event out[4];
    const int n = epoll_wait(ep, out, 4, 1000);
    check(n == 1 && out[0].data.u64 == DATA_LISTENER, "epoll-listener-ready", "%d events", n);
    const int a = connected && readable_within(lsn, 2000) ? accept(lsn, NULL, NULL) : -1;
    check(a >= 0 && write(c, "hi", 2) == 2 && readable_within(a, 1000), "tcp-accept", "accept after recovery");
    if (a >= 0) close(a);
    if (c >= 0) close(c);

    check(port_of(udp) == udp_port, "udp-port", "bound to %u, was %u", port_of(udp), udp_port);
    const int s = socket(AF_INET, SOCK_DGRAM, 0);
    to.sin_port = htons(udp_port);
    char b[16] = {0};
    check(s >= 0 && sendto(s, "dgram", 5, 0, (struct sockaddr*)&to, sizeof to) == 5 && readable_within(udp, 1000) &&
              recv(udp, b, sizeof b, 0) == 5 && memcmp(b, "dgram", 5) == 0,
          "udp-receives", "datagram to 127.0.0.1:%u", udp_port);
    if (s >= 0) close(s);
  }

  /* memfd */
  {
    struct stat st;
    memset(&st, 0, sizeof st);
    fstat(mfd, &st);
    char b[16] = {0};
    check(st.st_size == 8192 && pread(mfd, b, 13, 0) == 13 && memcmp(b, "memfd-content", 13) == 0, "memfd-contents",
          "size %lld, starts '%s'", (long long)st.st_size, b);
  }

  if (g_failures == 0)
    say("verdict ok");
  else
    say("verdict FAIL %d", g_failures);
  return g_failures == 0 ? 0 : 1;
}
