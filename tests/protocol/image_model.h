// ImageModel: what a memnode's image must hold, byte for byte, kept by a
// test client as it commits; plus a seeded generator of random epochs.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "runtime/transport/transport.h"

namespace respct::test {

struct Write {
  uint32_t region;
  uint64_t offset;
  std::vector<uint8_t> bytes;
};
using Epoch = std::vector<Write>;

class ImageModel {
 public:
  explicit ImageModel(const std::vector<RegionSpec>& regions) {
    for (const RegionSpec& r : regions) bytes_[r.id].assign(r.size, 0);
  }
  void Apply(const Epoch& e) {
    for (const Write& w : e) std::memcpy(bytes_[w.region].data() + w.offset, w.bytes.data(), w.bytes.size());
  }
  const std::map<uint32_t, std::vector<uint8_t>>& regions() const { return bytes_; }

  // Compares with the memnode's image through `t`; describes the first difference.
  ::testing::AssertionResult Matches(Transport& t) const {
    for (const auto& [id, want] : bytes_) {
      std::vector<uint8_t> got(want.size());
      Status st = t.ReadImage(id, 0, got.data(), got.size());
      if (!st.ok()) return ::testing::AssertionFailure() << "ReadImage region " << id << ": " << st.ToString();
      if (got != want) {
        size_t i = 0;
        while (got[i] == want[i]) ++i;
        return ::testing::AssertionFailure() << "region " << id << " differs first at byte " << i << " (image "
                                             << int{got[i]} << ", model " << int{want[i]} << ")";
      }
    }
    return ::testing::AssertionSuccess();
  }

 private:
  std::map<uint32_t, std::vector<uint8_t>> bytes_;
};

// Random epochs: some empty, otherwise 1..max_records writes of 1 B..max_len
// bytes (log-uniform, so small and large records both appear) at random
// offsets of random regions.
class EpochGenerator {
 public:
  EpochGenerator(uint64_t seed, std::vector<RegionSpec> regions, uint64_t max_len, int max_records = 8)
      : rng_(seed), regions_(std::move(regions)), max_len_(max_len), max_records_(max_records) {}

  Epoch Next() {
    Epoch e;
    if (std::uniform_int_distribution<int>(0, 9)(rng_) == 0) return e;
    const int n = std::uniform_int_distribution<int>(1, max_records_)(rng_);
    for (int i = 0; i < n; ++i) {
      const RegionSpec& r = regions_[std::uniform_int_distribution<size_t>(0, regions_.size() - 1)(rng_)];
      const double l = std::uniform_real_distribution<double>(0, std::log2(double(max_len_)))(rng_);
      const uint64_t len = std::min<uint64_t>(std::max<uint64_t>(1, uint64_t(std::exp2(l))), r.size);
      const uint64_t off = std::uniform_int_distribution<uint64_t>(0, r.size - len)(rng_);
      Write w{r.id, off, std::vector<uint8_t>(len)};
      for (size_t k = 0; k < len; k += 8) {
        const uint64_t v = rng_();
        std::memcpy(w.bytes.data() + k, &v, std::min<size_t>(8, len - k));
      }
      e.push_back(std::move(w));
    }
    return e;
  }

 private:
  std::mt19937_64 rng_;
  std::vector<RegionSpec> regions_;
  uint64_t max_len_;
  int max_records_;
};

inline Status AppendEpoch(Transport& t, uint64_t epoch, const Epoch& e) {
  for (const Write& w : e) RESPCT_RETURN_IF_ERROR(t.Append(epoch, w.region, w.offset, w.bytes.data(), w.bytes.size()));
  return Status::OK();
}

}  // namespace respct::test
