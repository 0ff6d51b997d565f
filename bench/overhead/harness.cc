#include "bench/overhead/harness.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

extern char** environ;

namespace respct::bench {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

double Seconds(const timeval& tv) { return double(tv.tv_sec) + double(tv.tv_usec) / 1e6; }

std::string CpuModel() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("model name", 0) == 0) {
      const size_t colon = line.find(':');
      if (colon != std::string::npos) return line.substr(line.find_first_not_of(' ', colon + 1));
    }
  }
  return "unknown";
}

std::string Kernel() {
  utsname u{};
  if (uname(&u) != 0) return "unknown";
  return std::string(u.sysname) + " " + u.release;
}

double LoadAverage() {
  double load[1] = {0};
  return getloadavg(load, 1) == 1 ? load[0] : -1;
}

}  // namespace

ChildRun RunChild(const std::vector<std::string>& argv, const std::string& scratch_dir) {
  static unsigned counter = 0;
  const std::string base = scratch_dir + "/child" + std::to_string(++counter);
  const std::string out_path = base + ".out", err_path = base + ".err";
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&fa, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const auto t0 = std::chrono::steady_clock::now();
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) throw std::runtime_error("cannot start " + argv[0] + ": " + std::strerror(rc));
  int status = 0;
  rusage ru{};
  while (wait4(pid, &status, 0, &ru) < 0) {
    if (errno != EINTR) throw std::runtime_error("wait4: " + std::string(std::strerror(errno)));
  }
  ChildRun r;
  r.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.cpu_s = Seconds(ru.ru_utime) + Seconds(ru.ru_stime);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = ReadFile(out_path);
  r.err = ReadFile(err_path);
  unlink(out_path.c_str());
  unlink(err_path.c_str());
  return r;
}

std::string FindToken(const std::string& text, const std::string& key) {
  const std::string needle = key + "=";
  size_t at = 0;
  // Only a whole word: "digest=" must not match inside "xdigest=".
  while ((at = text.find(needle, at)) != std::string::npos) {
    if (at == 0 || std::isspace(static_cast<unsigned char>(text[at - 1]))) {
      const size_t start = at + needle.size();
      size_t end = start;
      while (end < text.size() && !std::isspace(static_cast<unsigned char>(text[end]))) ++end;
      return text.substr(start, end - start);
    }
    at += needle.size();
  }
  return "";
}

double ProcessCpuSeconds(pid_t pid) {
  const std::string stat = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  // Fields after the parenthesised command name (which may hold spaces):
  // state is field 3, utime 14, stime 15.
  const size_t paren = stat.rfind(')');
  if (paren == std::string::npos) return 0;
  std::istringstream in(stat.substr(paren + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && (in >> field); ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return double(utime + stime) / double(sysconf(_SC_CLK_TCK));
}

std::vector<std::string> RespctCommand(const RespctTarget& target, const std::string& app, int epoch_ms,
                                       const std::string& stats_file, const std::vector<std::string>& program) {
  std::vector<std::string> argv = {target.respct_run,
                                   "--memnode",
                                   target.memnode_url,
                                   "--secret-file",
                                   target.secret_file,
                                   "--app",
                                   app,
                                   "--epoch-ms",
                                   std::to_string(epoch_ms),
                                   "--stats=json",
                                   "--stats-file",
                                   stats_file,
                                   "--"};
  argv.insert(argv.end(), program.begin(), program.end());
  return argv;
}

std::string MachineJson() {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.2f", LoadAverage());
  return "{\"nproc\":" + std::to_string(sysconf(_SC_NPROCESSORS_ONLN)) + ",\"kernel\":" + JsonString(Kernel()) +
         ",\"cpu_model\":" + JsonString(CpuModel()) + ",\"loadavg_1m\":" + buf + "}";
}

std::string MachineLine() {
  char buf[512];
  std::snprintf(buf, sizeof buf, "%ld CPUs (%s), %s, load average %.2f", sysconf(_SC_NPROCESSORS_ONLN),
                CpuModel().c_str(), Kernel().c_str(), LoadAverage());
  return buf;
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double Min(const std::vector<double>& v) { return v.empty() ? 0 : *std::min_element(v.begin(), v.end()); }

double Max(const std::vector<double>& v) { return v.empty() ? 0 : *std::max_element(v.begin(), v.end()); }

std::string JsonString(const std::string& s) {
  std::string out = "\"";
  for (const char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) {
      char esc[8];
      std::snprintf(esc, sizeof esc, "\\u%04x", c);
      out += esc;
      continue;
    }
    out += c;
  }
  return out + "\"";
}

void WriteResultsFile(const std::string& path, const std::string& json) {
  std::ofstream out(path);
  out << json;
  if (!out) throw std::runtime_error("cannot write " + path);
  std::printf("\nresults written to %s\n", path.c_str());
}

ScratchDir::ScratchDir(const std::string& prefix) {
  const std::string root = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
  std::string templ = root + "/" + prefix + "-XXXXXX";
  if (mkdtemp(templ.data()) == nullptr)
    throw std::runtime_error("mkdtemp " + templ + ": " + std::strerror(errno));
  path_ = templ;
}

ScratchDir::~ScratchDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

}  // namespace respct::bench
