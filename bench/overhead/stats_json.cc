#include "bench/overhead/stats_json.h"

#include <cctype>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>

namespace respct::bench {
namespace {

// A parsed JSON value. Numbers keep their text: t_ns needs all 64 bits, which
// a double would round.
struct Value {
  enum class Kind { kNull, kBool, kNumber, kString, kArray, kObject } kind = Kind::kNull;
  bool boolean = false;
  std::string text;  // number text or string contents
  std::vector<Value> items;
  std::map<std::string, Value> members;
};

class Parser {
 public:
  explicit Parser(const std::string& s) : s_(s) {}

  Value ParseDocument() {
    Value v = ParseValue();
    SkipSpace();
    if (pos_ != s_.size()) Fail("trailing characters");
    return v;
  }

 private:
  [[noreturn]] void Fail(const std::string& what) const {
    throw std::runtime_error("stats JSON: " + what + " at offset " + std::to_string(pos_));
  }

  void SkipSpace() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\n' || s_[pos_] == '\r' || s_[pos_] == '\t')) ++pos_;
  }

  void Expect(char c) {
    SkipSpace();
    if (pos_ >= s_.size() || s_[pos_] != c) Fail(std::string("expected '") + c + "'");
    ++pos_;
  }

  bool Consume(char c) {
    SkipSpace();
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }

  bool ConsumeWord(const char* w) {
    const std::string word(w);
    if (s_.compare(pos_, word.size(), word) != 0) return false;
    pos_ += word.size();
    return true;
  }

  std::string ParseString() {
    Expect('"');
    std::string out;
    while (pos_ < s_.size() && s_[pos_] != '"') {
      char c = s_[pos_++];
      if (c == '\\') {
        if (pos_ >= s_.size()) Fail("unterminated escape");
        c = s_[pos_++];
        // The runtime writes app names and tracker names: only the simple
        // escapes can occur; \uXXXX is kept verbatim rather than decoded.
        switch (c) {
          case 'n': out += '\n'; break;
          case 't': out += '\t'; break;
          case 'r': out += '\r'; break;
          case 'b': out += '\b'; break;
          case 'f': out += '\f'; break;
          case 'u': out += "\\u"; break;
          default: out += c;
        }
        continue;
      }
      out += c;
    }
    if (pos_ >= s_.size()) Fail("unterminated string");
    ++pos_;
    return out;
  }

  Value ParseValue() {
    SkipSpace();
    if (pos_ >= s_.size()) Fail("unexpected end");
    Value v;
    const char c = s_[pos_];
    if (c == '{') {
      v.kind = Value::Kind::kObject;
      ++pos_;
      if (Consume('}')) return v;
      do {
        std::string key = ParseString();
        Expect(':');
        v.members[key] = ParseValue();
      } while (Consume(','));
      Expect('}');
    } else if (c == '[') {
      v.kind = Value::Kind::kArray;
      ++pos_;
      if (Consume(']')) return v;
      do {
        v.items.push_back(ParseValue());
      } while (Consume(','));
      Expect(']');
    } else if (c == '"') {
      v.kind = Value::Kind::kString;
      v.text = ParseString();
    } else if (ConsumeWord("true")) {
      v.kind = Value::Kind::kBool;
      v.boolean = true;
    } else if (ConsumeWord("false")) {
      v.kind = Value::Kind::kBool;
    } else if (ConsumeWord("null")) {
      v.kind = Value::Kind::kNull;
    } else {
      const size_t start = pos_;
      while (pos_ < s_.size() && (std::isdigit(static_cast<unsigned char>(s_[pos_])) || s_[pos_] == '-' ||
                                  s_[pos_] == '+' || s_[pos_] == '.' || s_[pos_] == 'e' || s_[pos_] == 'E'))
        ++pos_;
      if (pos_ == start) Fail("unexpected character");
      v.kind = Value::Kind::kNumber;
      v.text = s_.substr(start, pos_ - start);
    }
    return v;
  }

  const std::string& s_;
  size_t pos_ = 0;
};

const Value& Member(const Value& obj, const std::string& key) {
  auto it = obj.members.find(key);
  if (obj.kind != Value::Kind::kObject || it == obj.members.end())
    throw std::runtime_error("stats JSON: no field \"" + key + "\"");
  return it->second;
}

uint64_t U64(const Value& obj, const std::string& key) {
  const Value& v = Member(obj, key);
  if (v.kind != Value::Kind::kNumber) throw std::runtime_error("stats JSON: \"" + key + "\" is not a number");
  return std::strtoull(v.text.c_str(), nullptr, 10);
}

double Dbl(const Value& obj, const std::string& key) {
  const Value& v = Member(obj, key);
  if (v.kind != Value::Kind::kNumber) throw std::runtime_error("stats JSON: \"" + key + "\" is not a number");
  return std::strtod(v.text.c_str(), nullptr);
}

}  // namespace

RunStats ParseRunStats(const std::string& text) {
  const Value root = Parser(text).ParseDocument();
  RunStats r;
  r.tracker = Member(root, "tracker").text;
  r.epochs_committed = U64(root, "epochs_committed");
  r.epochs_captured = U64(root, "epochs_captured");
  r.epochs_abandoned = U64(root, "epochs_abandoned");
  r.ship_failures = U64(root, "ship_failures");
  const Value& pause = Member(root, "pause_us");
  r.pause_p50_us = Dbl(pause, "p50");
  r.pause_p99_us = Dbl(pause, "p99");
  r.pause_max_us = Dbl(pause, "max");
  const Value& commit = Member(root, "commit_us");
  r.commit_p50_us = Dbl(commit, "p50");
  r.commit_p99_us = Dbl(commit, "p99");
  r.bytes_by_pages = U64(root, "bytes_by_pages");
  r.bytes_shipped = U64(root, "bytes_shipped");
  for (const Value& e : Member(root, "timeline").items) {
    EpochTiming t;
    t.epoch = U64(e, "epoch");
    t.t_ns = U64(e, "t_ns");
    t.pause_ns = U64(e, "pause_ns");
    t.quiesce_ns = U64(e, "quiesce_ns");
    t.capture_ns = U64(e, "capture_ns");
    t.ship_ns = U64(e, "ship_ns");
    t.commit_ns = U64(e, "commit_ns");
    t.bytes_by_pages = U64(e, "bytes_by_pages");
    t.bytes_shipped = U64(e, "bytes_shipped");
    r.timeline.push_back(t);
  }
  return r;
}

RunStats ReadRunStats(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("no stats file " + path + " (did the program run under respct?)");
  std::ostringstream ss;
  ss << in.rdbuf();
  if (ss.str().empty()) throw std::runtime_error("empty stats file " + path);
  try {
    return ParseRunStats(ss.str());
  } catch (const std::runtime_error& e) {
    throw std::runtime_error(path + ": " + e.what());
  }
}

}  // namespace respct::bench
