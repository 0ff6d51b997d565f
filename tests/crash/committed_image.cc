#include "tests/crash/committed_image.h"

#include <chrono>
#include <cstring>
#include <regex>
#include <thread>

#include "runtime/core/layout.h"
#include "runtime/core/meta_region.h"
#include "runtime/transport/transport.h"

namespace respct::crashtest {
namespace {

const wire::AppSummary* Find(const std::vector<wire::AppSummary>& apps, const std::string& app) {
  for (const wire::AppSummary& a : apps)
    if (std::string(a.name, strnlen(a.name, sizeof a.name)) == app) return &a;
  return nullptr;
}

}  // namespace

uint64_t CommittedEpochNow(const std::string& url, const Secret& secret, const std::string& app) {
  ConnectOptions admin;
  admin.timeout_ms = 2000;
  auto conn = Transport::Connect(url, secret, admin);
  if (!conn.ok()) return 0;
  auto apps = (*conn)->ListApps();
  if (!apps.ok()) return 0;
  const wire::AppSummary* a = Find(apps.value(), app);
  return a == nullptr ? 0 : a->committed_epoch;
}

Result<CommittedImage> ReadCommittedImage(const std::string& url, const Secret& secret, const std::string& app,
                                          int wait_ms) {
  ConnectOptions admin;
  admin.timeout_ms = 5000;
  auto conn = Transport::Connect(url, secret, admin);
  if (!conn.ok()) return conn.status().Annotate("admin session");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms);
  CommittedImage out;
  for (;;) {
    auto apps = (*conn)->ListApps();
    if (!apps.ok()) return apps.status();
    const wire::AppSummary* a = Find(apps.value(), app);
    if (a == nullptr) return out;
    if (a->writer_attached == 0) {
      out.present = true;
      out.epoch = a->committed_epoch;
      out.commit_unix_ns = a->last_commit_unix_ns;
      break;
    }
    if (std::chrono::steady_clock::now() > deadline)
      return Status::Unavailable("app '" + app + "' still has a writer attached");
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (out.epoch == 0) return out;
  ConnectOptions reader;
  reader.app = app;
  reader.writer = false;
  auto r = Transport::Connect(url, secret, reader);
  if (!r.ok()) return r.status().Annotate("reader session");
  core::MetaHeader m{};
  RESPCT_RETURN_IF_ERROR((*r)->ReadImage(core::kMetaRegion, 0, &m, sizeof m));
  if (m.magic != core::kMetaMagic) return Status::Corruption("app '" + app + "': no meta header in the image");
  if (m.epoch != out.epoch)
    return Status::Corruption("app '" + app + "': the meta header says epoch " + std::to_string(m.epoch) +
                              ", the memnode committed " + std::to_string(out.epoch));
  out.capture_unix_ns = m.capture_unix_ns;
  return out;
}

uint64_t ResumedEpoch(const std::string& recover_err) {
  static const std::regex re("resuming app '[^']*' at epoch ([0-9]+)");
  std::smatch m;
  if (!std::regex_search(recover_err, m, re)) return 0;
  return std::stoull(m[1].str());
}

}  // namespace respct::crashtest
