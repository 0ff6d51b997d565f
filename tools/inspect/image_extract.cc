#include "tools/inspect/image_extract.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <vector>

#include "runtime/core/layout.h"
#include "tools/inspect/app_listing.h"
#include "runtime/base/json_string.h"
#include "tools/inspect/process_image.h"

namespace respct::inspect {
namespace {

constexpr size_t kPiece = 4u << 20;  // bytes read per request
constexpr size_t kBlock = 4096;      // hole granularity
constexpr uint64_t kProgressAbove = 64ull << 20;
constexpr int kConsistentReadAttempts = 5;

std::string HexBytes(const uint8_t* p, size_t n) {
  std::string s;
  char b[3];
  for (size_t i = 0; i < n; ++i) {
    std::snprintf(b, sizeof b, "%02x", p[i]);
    s += b;
  }
  return s;
}

bool AllZero(const uint8_t* p, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (p[i] != 0) return false;
  return true;
}

Status WriteAll(int fd, const uint8_t* p, size_t n, off_t at, const std::string& path) {
  while (n > 0) {
    const ssize_t w = pwrite(fd, p, n, at);
    if (w < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno("write " + path, errno);
    }
    p += w;
    n -= static_cast<size_t>(w);
    at += w;
  }
  return Status::OK();
}

// Copies one region into `path`, leaving all-zero blocks as holes.
Status ExtractRegion(ImageSource* source, const RegionSpec& r, const std::string& path, uint64_t total,
                     uint64_t* done, uint64_t* nonzero, FILE* progress) {
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::FromErrno(path, errno);
  std::vector<uint8_t> buf(kPiece);
  Status st;
  auto last_report = std::chrono::steady_clock::now();
  for (uint64_t off = 0; off < r.size && st.ok(); off += kPiece) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(kPiece, r.size - off));
    st = source->Read(r.id, off, buf.data(), n);
    for (size_t b = 0; b < n && st.ok(); b += kBlock) {
      const size_t len = std::min(kBlock, n - b);
      if (AllZero(buf.data() + b, len)) continue;
      st = WriteAll(fd, buf.data() + b, len, static_cast<off_t>(off + b), path);
      *nonzero += len;
    }
    *done += n;
    const auto now = std::chrono::steady_clock::now();
    if (progress != nullptr && total > kProgressAbove && now - last_report > std::chrono::seconds(1)) {
      std::fprintf(progress, "respct-inspect: extracting %s: %" PRIu64 " of %" PRIu64 " MiB\n",
                   core::RegionName(r.id), *done >> 20, total >> 20);
      last_report = now;
    }
  }
  if (st.ok() && ftruncate(fd, static_cast<off_t>(r.size)) != 0) st = Status::FromErrno("truncate " + path, errno);
  if (st.ok() && fsync(fd) != 0) st = Status::FromErrno("fsync " + path, errno);
  close(fd);
  return st;
}

std::string Manifest(ImageSource* source, const ProcessImage* img, uint64_t epoch) {
  std::string out = "{\n  \"app\": " + JsonString(source->app()) + ",\n  \"source\": " +
                    JsonString(source->source()) + ",\n  \"epoch\": " + std::to_string(epoch) + ",\n  \"regions\": [";
  for (size_t i = 0; i < source->regions().size(); ++i) {
    const RegionSpec& r = source->regions()[i];
    out += (i == 0 ? "\n" : ",\n");
    out += "    {\"id\": " + std::to_string(r.id) + ", \"name\": " + JsonString(core::RegionName(r.id)) +
           ", \"file\": " + JsonString(RegionFileName(r.id)) + ", \"base_addr\": " + JsonString(HexAddress(r.base_addr)) +
           ", \"size\": " + std::to_string(r.size) + "}";
  }
  out += "\n  ]";
  if (img == nullptr) return out + ",\n  \"build_id\": null,\n  \"exe_path\": null,\n  \"libraries\": []\n}\n";
  const core::MetaHeader& m = img->meta();
  out += ",\n  \"build_id\": " + JsonString(HexBytes(m.build_id, std::min<size_t>(m.build_id_len, sizeof m.build_id))) +
         ",\n  \"exe_path\": " + JsonString(std::string(m.exe_path, strnlen(m.exe_path, sizeof m.exe_path))) +
         ",\n  \"max_threads\": " + std::to_string(m.max_threads) +
         ",\n  \"stack_size\": " + std::to_string(m.stack_size) + ",\n  \"libraries\": [";
  const uint32_t n = std::min<uint32_t>(m.library_count, core::kMaxLibraries);
  for (uint32_t i = 0; i < n; ++i) {
    const core::LibraryEntry& lib = m.libraries[i];
    out += (i == 0 ? "\n" : ",\n");
    out += "    {\"name\": " + JsonString(std::string(lib.name, strnlen(lib.name, sizeof lib.name))) +
           ", \"load_addr\": " + JsonString(HexAddress(lib.load_addr)) + "}";
  }
  out += n == 0 ? "]\n}\n" : "\n  ]\n}\n";
  return out;
}

}  // namespace

std::string RegionFileName(uint32_t region_id) {
  const std::string name = core::RegionName(region_id);
  return (name == "unknown" ? "region-" + std::to_string(region_id) : name) + ".bin";
}

Result<ExtractResult> ExtractImage(ImageSource* source, const std::string& dir, FILE* progress) {
  if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) return Status::FromErrno("mkdir " + dir, errno);
  uint64_t total = 0;
  for (const RegionSpec& r : source->regions()) total += r.size;
  for (int attempt = 0; attempt < kConsistentReadAttempts; ++attempt) {
    // Without a meta region (not a respct process image) the manifest has
    // no identity and the epoch is the source's.
    auto img = ProcessImage::Load(source);
    const uint64_t epoch = img.ok() ? (*img)->meta().epoch : source->image_epoch();
    ExtractResult res;
    res.epoch = epoch;
    for (const RegionSpec& r : source->regions())
      RESPCT_RETURN_IF_ERROR(
          ExtractRegion(source, r, dir + "/" + RegionFileName(r.id), total, &res.bytes, &res.nonzero_bytes, progress));
    if (img.ok()) {
      auto after = (*img)->CurrentMetaEpoch();
      if (!after.ok()) return after.status();
      if (*after != epoch) continue;  // a live writer committed meanwhile
    }
    res.manifest_path = dir + "/manifest.json";
    const std::string manifest = Manifest(source, img.ok() ? img->get() : nullptr, epoch);
    const int fd = open(res.manifest_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return Status::FromErrno(res.manifest_path, errno);
    Status st = WriteAll(fd, reinterpret_cast<const uint8_t*>(manifest.data()), manifest.size(), 0, res.manifest_path);
    close(fd);
    RESPCT_RETURN_IF_ERROR(st);
    return res;
  }
  return Status::Unavailable("app '" + source->app() + "' committed new epochs during every one of " +
                             std::to_string(kConsistentReadAttempts) +
                             " attempts to extract its image; try again after the writer stops");
}

}  // namespace respct::inspect
