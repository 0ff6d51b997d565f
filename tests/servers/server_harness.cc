#include "tests/servers/server_harness.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <regex>
#include <sstream>

#include "memnode/ready_file.h"
#include "runtime/transport/transport.h"
#include "tests/servers/server_client.h"

namespace respct::servertest {

using shimtest::ReadFile;

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

const char* ServerName(ServerKind k) { return k == ServerKind::kMemcached ? "memcached" : "redis"; }
const char* MemnodeName(MemnodeKind k) { return k == MemnodeKind::kEmbeddedShm ? "shm" : "tcp"; }

std::string ServerBinary(ServerKind k) {
  const std::string name = k == ServerKind::kMemcached ? "memcached" : "redis-server";
  const char* path = std::getenv("PATH");
  std::istringstream dirs(std::string(path != nullptr ? path : "") + ":/usr/bin:/usr/sbin");
  for (std::string d; std::getline(dirs, d, ':');) {
    const std::string c = d + "/" + name;
    if (!d.empty() && access(c.c_str(), X_OK) == 0) return c;
  }
  return {};
}

std::vector<std::string> ServerArgv(ServerKind k, const std::string& binary, uint16_t port) {
  const std::string p = std::to_string(port);
  if (k == ServerKind::kMemcached) {
    std::vector<std::string> a = {binary, "-p", p, "-U", "0", "-l", "127.0.0.1", "-t", "4", "-m", "256"};
    if (geteuid() == 0) a.insert(a.begin() + 1, {"-u", "root"});
    return a;
  }
  return {binary, "--port", p, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no"};
}

// ---------------------------------------------------------------- memnode

TestMemnode::TestMemnode(MemnodeKind kind, const std::string& dir) : kind_(kind) {
  if (kind_ == MemnodeKind::kTcp) {
    mn_ = std::make_unique<test::MemnodeProcess>(shimtest::MemnodeOptions());
    return;
  }
  // The embedded memnode's pool (64 GiB sparse) on /dev/shm like the other
  // tests' pools: kill -9 of a process loses no page-cache data anyway.
  std::string base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : dir;
  std::string templ = base + "/respct-srv-XXXXXX";
  if (mkdtemp(templ.data()) != nullptr) state_dir_ = templ;
}

TestMemnode::~TestMemnode() {
  if (kind_ != MemnodeKind::kEmbeddedShm || state_dir_.empty()) return;
  if (embedded_pid_ == 0) {
    auto ready = memnode::ReadyFile::Read(state_dir_ + "/memnode.ready");
    if (ready.ok()) embedded_pid_ = ready->pid;
  }
  if (embedded_pid_ > 0) {
    kill(embedded_pid_, SIGKILL);
    // Not our child (it daemonised): wait for it to be gone, bounded.
    for (int i = 0; i < 200 && kill(embedded_pid_, 0) == 0; ++i) usleep(10000);
  }
  std::error_code ec;
  std::filesystem::remove_all(state_dir_, ec);
}

testing::AssertionResult TestMemnode::Start() {
  if (kind_ == MemnodeKind::kTcp) {
    testing::AssertionResult r = shimtest::Started(*mn_);
    if (r) secret_ = mn_->secret();
    return r;
  }
  if (state_dir_.empty()) return testing::AssertionFailure() << "no state directory";
  return testing::AssertionSuccess();  // respct-run starts it
}

testing::AssertionResult TestMemnode::WaitReady() {
  if (kind_ == MemnodeKind::kTcp) return testing::AssertionSuccess();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    auto ready = memnode::ReadyFile::Read(state_dir_ + "/memnode.ready");
    if (ready.ok()) {
      embedded_pid_ = ready->pid;
      auto s = Secret::FromFile(state_dir_ + "/secret");
      if (!s.ok()) return testing::AssertionFailure() << "embedded memnode secret: " << s.status().ToString();
      secret_ = s.value();
      return testing::AssertionSuccess();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return testing::AssertionFailure() << "the embedded memnode did not announce itself in " << state_dir_;
}

std::string TestMemnode::url() const {
  return kind_ == MemnodeKind::kTcp ? mn_->tcp_url() : "shm://" + state_dir_ + "/memnode.sock";
}

std::string TestMemnode::LogTail() const {
  return kind_ == MemnodeKind::kTcp ? mn_->LogTail() : shimtest::Tail(ReadFile(state_dir_ + "/memnode.log"));
}

std::vector<std::string> TestMemnode::RunArgv(const std::string& app, const std::vector<std::string>& extra,
                                              const std::vector<std::string>& program) const {
  std::vector<std::string> a = {RESPCT_RUN_BIN};
  if (kind_ == MemnodeKind::kTcp) a.insert(a.end(), {"--memnode", mn_->tcp_url(), "--secret-file", mn_->secret_path()});
  a.insert(a.end(), {"--app", app, "--epoch-ms", "10"});
  a.insert(a.end(), extra.begin(), extra.end());
  a.push_back("--");
  a.insert(a.end(), program.begin(), program.end());
  return a;
}

std::vector<std::string> TestMemnode::RecoverArgv(const std::string& app, const std::vector<std::string>& program,
                                                  const std::vector<std::string>& extra) const {
  std::vector<std::string> a = {RESPCT_RECOVER_BIN};
  if (kind_ == MemnodeKind::kTcp) a.insert(a.end(), {"--memnode", mn_->tcp_url(), "--secret-file", mn_->secret_path()});
  a.insert(a.end(), {"--app", app, "--epoch-ms", "10"});
  a.insert(a.end(), extra.begin(), extra.end());
  a.push_back("--");
  a.insert(a.end(), program.begin(), program.end());
  return a;
}

shimtest::ChildOptions TestMemnode::ChildEnv(int timeout_s) const {
  shimtest::ChildOptions o;
  o.timeout_s = timeout_s;
  if (kind_ == MemnodeKind::kEmbeddedShm) o.env.emplace_back("RESPCT_STATE_DIR", state_dir_);
  return o;
}

// ---------------------------------------------------------------- sampler

EpochSampler::EpochSampler(std::string url, Secret secret, std::string app)
    : url_(std::move(url)), app_(std::move(app)), secret_(std::move(secret)) {
  thread_ = std::thread([this] { Run(); });
}

EpochSampler::~EpochSampler() { Stop(); }

void EpochSampler::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void EpochSampler::Run() {
  std::unique_ptr<Transport> admin;
  while (!stop_) {
    if (admin == nullptr) {
      ConnectOptions o;
      o.timeout_ms = 2000;
      auto c = Transport::Connect(url_, secret_, o);
      if (!c.ok()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        continue;
      }
      admin = std::move(c.value());
    }
    const int64_t start = NowNs();
    auto apps = admin->ListApps();
    if (!apps.ok()) {
      admin.reset();
      continue;
    }
    uint64_t e = 0;
    for (const wire::AppSummary& a : *apps)
      if (std::string(a.name, strnlen(a.name, sizeof a.name)) == app_) e = a.committed_epoch;
    {
      std::lock_guard<std::mutex> lock(mu_);
      samples_.emplace_back(start, e);
    }
    latest_ = std::max(latest_.load(), e);
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

std::optional<uint64_t> EpochSampler::FirstAtOrAfter(int64_t t_ns) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = std::lower_bound(samples_.begin(), samples_.end(), t_ns,
                             [](const std::pair<int64_t, uint64_t>& s, int64_t t) { return s.first < t; });
  if (it == samples_.end()) return std::nullopt;
  return it->second;
}

bool EpochSampler::WaitBeyond(uint64_t epoch, int timeout_ms) const {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (latest_.load() <= epoch) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

// ---------------------------------------------------------------- load

std::string ValueFor(const std::string& key) {
  const uint64_t h = shimtest::Fnv1a(key);
  std::string v = key + "=";
  const size_t len = 24 + h % 137;
  for (size_t i = 0; v.size() < len; ++i) v += static_cast<char>('a' + (h >> (i % 60)) % 26);
  return v;
}

Load::Load(ServerKind kind, uint16_t port, std::string prefix, int threads)
    : kind_(kind), port_(port), prefix_(std::move(prefix)), per_thread_(static_cast<size_t>(threads)) {
  for (int t = 0; t < threads; ++t) threads_.emplace_back([this, t] { Client(t); });
}

Load::~Load() { Stop(); }

void Load::Stop() {
  stop_ = true;
  for (std::thread& t : threads_)
    if (t.joinable()) t.join();
}

void Load::Client(int t) {
  std::vector<KeyRecord>& mine = per_thread_[static_cast<size_t>(t)];
  MemcacheClient mc;
  RespClient rc;
  const bool ok = kind_ == ServerKind::kMemcached ? mc.Connect(port_) : rc.Connect(port_);
  if (!ok) return;
  for (size_t i = 0; !stop_; ++i) {
    KeyRecord r;
    r.key = prefix_ + std::to_string(t) + "-" + std::to_string(i);
    r.value = ValueFor(r.key);
    mine.push_back(r);
    bool acked = false;
    if (kind_ == ServerKind::kMemcached) {
      acked = mc.Set(r.key, r.value);
    } else {
      const auto reply = rc.Command({"SET", r.key, r.value});
      acked = reply && reply->type == '+' && reply->str == "OK";
    }
    if (!acked) return;  // the server went away (killed): this key stays "sent"
    mine.back().ack_ns = NowNs();
    ++acked_;
  }
}

std::vector<KeyRecord> Load::Records() const {
  std::vector<KeyRecord> all;
  for (const auto& v : per_thread_) all.insert(all.end(), v.begin(), v.end());
  return all;
}

std::vector<std::string> Load::NeverSent() const {
  std::vector<std::string> keys;
  for (size_t t = 0; t < per_thread_.size(); ++t)
    for (size_t i = per_thread_[t].size(); i < per_thread_[t].size() + 3; ++i)
      keys.push_back(prefix_ + std::to_string(t) + "-" + std::to_string(i));
  return keys;
}

// ---------------------------------------------------------------- checks

namespace {

// Values of `keys` on the server (absent keys missing from the map).
std::optional<std::map<std::string, std::string>> Fetch(ServerKind kind, uint16_t port,
                                                        const std::vector<std::string>& keys, std::string* error) {
  std::map<std::string, std::string> out;
  MemcacheClient mc;
  RespClient rc;
  if (!(kind == ServerKind::kMemcached ? mc.Connect(port) : rc.Connect(port))) {
    *error = "cannot connect to the recovered server on port " + std::to_string(port);
    return std::nullopt;
  }
  for (size_t off = 0; off < keys.size(); off += 100) {
    const std::vector<std::string> batch(keys.begin() + static_cast<long>(off),
                                         keys.begin() + static_cast<long>(std::min(keys.size(), off + 100)));
    if (kind == ServerKind::kMemcached) {
      auto got = mc.GetMany(batch);
      if (!got) {
        *error = "get failed";
        return std::nullopt;
      }
      out.insert(got->begin(), got->end());
    } else {
      std::vector<std::string> cmd = {"MGET"};
      cmd.insert(cmd.end(), batch.begin(), batch.end());
      auto got = rc.Command(cmd);
      if (!got || got->type != '*' || got->elements.size() != batch.size()) {
        *error = "MGET failed";
        return std::nullopt;
      }
      for (size_t i = 0; i < batch.size(); ++i)
        if (!got->elements[i].is_nil) out[batch[i]] = got->elements[i].str;
    }
  }
  return out;
}

std::optional<size_t> ServerCount(ServerKind kind, uint16_t port) {
  if (kind == ServerKind::kMemcached) {
    MemcacheClient mc;
    if (!mc.Connect(port)) return std::nullopt;
    auto s = mc.Stats();
    if (!s || s->count("curr_items") == 0) return std::nullopt;
    return std::stoull(s->at("curr_items"));
  }
  RespClient rc;
  if (!rc.Connect(port)) return std::nullopt;
  auto r = rc.Command({"DBSIZE"});
  if (!r || r->type != ':') return std::nullopt;
  return static_cast<size_t>(r->integer);
}

void Note(std::vector<std::string>* list, const std::string& what) {
  if (list->size() < 5) list->push_back(what);
}

}  // namespace

std::string VerifyResult::Describe() const {
  std::ostringstream s;
  s << "sent " << sent << ", acknowledged " << acked << ", required " << required << ", present " << present
    << ", server count " << server_count;
  if (!error.empty()) s << "; ERROR: " << error;
  for (const std::string& m : missing) s << "\n  missing (acknowledged, so required): " << m;
  for (const std::string& w : wrong) s << "\n  wrong value: " << w;
  for (const std::string& p : phantom) s << "\n  present but never sent: " << p;
  return s.str();
}

VerifyResult Verify(ServerKind kind, uint16_t port, const std::vector<KeyRecord>& records,
                    const std::vector<std::string>& never_sent, const EpochSampler& sampler, uint64_t resumed_epoch,
                    bool output_commit, const std::vector<KeyRecord>& always_required) {
  VerifyResult v;
  std::vector<std::string> keys;
  for (const KeyRecord& r : always_required) keys.push_back(r.key);
  for (const KeyRecord& r : records) keys.push_back(r.key);
  keys.insert(keys.end(), never_sent.begin(), never_sent.end());
  auto got = Fetch(kind, port, keys, &v.error);
  if (!got) return v;
  auto check = [&](const KeyRecord& r, bool required) {
    auto it = got->find(r.key);
    if (required) ++v.required;
    if (it == got->end()) {
      if (required) Note(&v.missing, r.key);
      return;
    }
    ++v.present;
    if (it->second != r.value) Note(&v.wrong, r.key + " = '" + it->second + "'");
  };
  for (const KeyRecord& r : always_required) check(r, true);
  for (const KeyRecord& r : records) {
    ++v.sent;
    bool required = false;
    if (r.ack_ns != 0) {
      ++v.acked;
      if (output_commit) {
        required = resumed_epoch != 0;
      } else {
        const std::optional<uint64_t> seen = sampler.FirstAtOrAfter(r.ack_ns);
        required = seen.has_value() && *seen + 2 <= resumed_epoch;
      }
    }
    check(r, required);
  }
  for (const std::string& k : never_sent)
    if (got->count(k) != 0) Note(&v.phantom, k);
  const std::optional<size_t> count = ServerCount(kind, port);
  if (!count) {
    v.error = std::string(kind == ServerKind::kMemcached ? "stats" : "DBSIZE") + " did not answer";
    return v;
  }
  v.server_count = *count;
  if (v.server_count != v.present)
    v.error = "the server counts " + std::to_string(v.server_count) + " keys, " + std::to_string(v.present) +
              " of ours were found";
  return v;
}

std::vector<KeyRecord> PresentKeys(ServerKind kind, uint16_t port, const std::vector<KeyRecord>& records) {
  std::vector<std::string> keys;
  for (const KeyRecord& r : records) keys.push_back(r.key);
  std::string error;
  auto got = Fetch(kind, port, keys, &error);
  std::vector<KeyRecord> out;
  if (!got) return out;
  for (const KeyRecord& r : records)
    if (got->count(r.key) != 0) out.push_back(r);
  return out;
}

testing::AssertionResult Answers(ServerKind kind, uint16_t port) {
  if (kind == ServerKind::kMemcached) {
    MemcacheClient mc;
    if (!mc.Connect(port)) return testing::AssertionFailure() << "no connection to memcached on " << port;
    auto s = mc.Stats();
    if (!s || s->count("pid") == 0 || s->count("curr_items") == 0)
      return testing::AssertionFailure() << "memcached's stats did not answer";
    return testing::AssertionSuccess();
  }
  RespClient rc;
  if (!rc.Connect(port)) return testing::AssertionFailure() << "no connection to redis on " << port;
  auto p = rc.Command({"PING"});
  if (!p || p->type != '+' || p->str != "PONG") return testing::AssertionFailure() << "redis PING did not answer";
  auto d = rc.Command({"DBSIZE"});
  if (!d || d->type != ':') return testing::AssertionFailure() << "redis DBSIZE did not answer";
  return testing::AssertionSuccess();
}

}  // namespace respct::servertest
