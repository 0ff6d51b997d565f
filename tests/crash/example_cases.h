// The example programs as the crash tests run them: workloads of a few
// seconds under respct, a progress line every 20 ms (so the first one after a
// recovery comes at once), and the image layout that keeps recovery short.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "tests/crash/crash_campaign.h"

namespace respct::crashtest {

inline const std::vector<std::string> kSmallImage = {"--heap-size", "64M", "--max-threads", "16",
                                                     "--stack-size", "256K", "--ring-size", "16M"};

inline std::vector<Example> CampaignExamples() {
  return {
      {"bank", BANK_BIN, {"--transfers", "1000000", "--work-ns", "100", "--report-ms", "20"}, "transfers"},
      {"kvstore", KVSTORE_BIN, {"--ops", "500000", "--report-ms", "20"}, "ops"},
      {"pipeline", PIPELINE_BIN, {"--items", "300000", "--report-ms", "20"}, "items"},
  };
}

// bank for the tests that kill it a few times: `transfers` transfers, about
// 1.5 s a million under respct here.
inline Example BankToKill(uint64_t transfers = 1500000) {
  return {"bank", BANK_BIN, {"--transfers", std::to_string(transfers), "--work-ns", "100", "--report-ms", "20"},
          "transfers"};
}

// gtest prints a parameter's name, not its bytes.
inline void PrintTo(const Example& e, std::ostream* os) { *os << e.name; }

}  // namespace respct::crashtest
