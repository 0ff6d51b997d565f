// JsonString (runtime/base/json_string.h): every string respct writes into
// JSON goes through it, so a name with quotes, backslashes or control bytes
// (an app called `a"b`, a path with a newline) cannot break a report.
#include <gtest/gtest.h>

#include "runtime/base/json_string.h"

namespace respct {
namespace {

TEST(JsonString, QuotesAndEscapesWhatJsonRequires) {
  EXPECT_EQ(JsonString(""), "\"\"");
  EXPECT_EQ(JsonString("bank"), "\"bank\"");
  EXPECT_EQ(JsonString("a\"b"), "\"a\\\"b\"");
  EXPECT_EQ(JsonString("c:\\tmp"), "\"c:\\\\tmp\"");
  EXPECT_EQ(JsonString("line\nnext\t"), "\"line\\u000anext\\u0009\"");
  EXPECT_EQ(JsonString(std::string_view("nul\0x", 5)), "\"nul\\u0000x\"");
}

TEST(JsonString, PassesUtf8Through) {
  EXPECT_EQ(JsonString("caf\xc3\xa9"), "\"caf\xc3\xa9\"");
}

}  // namespace
}  // namespace respct
