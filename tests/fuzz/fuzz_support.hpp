#pragma once
// What the fuzz targets share: how a finding is reported (an abort, so that
// libFuzzer saves the input), the one exception type that is an expected
// refusal, and the input handed to the API that reads files.
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <iterator>
#include <set>
#include <string>
#include <string_view>
#include <typeinfo>
#include <vector>

#include "crmcore/errors.hpp"

namespace crmcore::fuzz {

// A broken property: printed for the report, then an abort that libFuzzer
// records as a crash with its input.
[[noreturn]] inline void finding(const std::string& what) {
  std::fprintf(stderr, "\n==crmcore-fuzz== FINDING: %s\n", what.c_str());
  std::fflush(stderr);
  std::abort();
}

// Whether a broken property is a finding already reported and being fixed
// (tests/fuzz/README.md lists each by its name). The fuzzers look past those
// so that a run keeps looking for new ones. CRMCORE_FUZZ_STRICT=1 makes them
// all findings again, CRMCORE_FUZZ_STRICT=name,name only those named: that is
// how tests/fuzz/findings/ is replayed. A fix deletes its name here; the
// check that names it stays.
inline bool known(std::string_view name) {
  constexpr std::string_view kKnown[] = {
      "",  // none known: every finding so far is fixed and its input is a regression seed
  };
  static const std::string strict = [] {
    const char* v = std::getenv("CRMCORE_FUZZ_STRICT");
    return "," + std::string(v ? v : "") + ",";
  }();
  if (strict == ",1," || strict == ",all," || strict.find("," + std::string(name) + ",") != std::string::npos)
    return false;
  static bool told[std::size(kKnown)] = {};
  for (size_t i = 0; i < std::size(kKnown); ++i) {
    if (kKnown[i] != name) continue;
    if (!told[i]) {  // once per process: a campaign's log shows which known findings it met
      std::fprintf(stderr, "==crmcore-fuzz== known finding met, not reported: %s\n", kKnown[i].data());
      told[i] = true;
    }
    return true;
  }
  return false;
}

// Whether `s` is well-formed UTF-8, by the byte ranges of RFC 3629 (no
// overlong forms, no surrogates, nothing past U+10FFFF).
inline bool valid_utf8(std::string_view s) {
  auto in = [](unsigned char c, unsigned lo, unsigned hi) { return c >= lo && c <= hi; };
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    auto at = [&](size_t k) { return i + k < s.size() ? static_cast<unsigned char>(s[i + k]) : 0; };
    size_t len = 0;
    if (c <= 0x7F) len = 1;
    else if (in(c, 0xC2, 0xDF) && in(at(1), 0x80, 0xBF)) len = 2;
    else if (c == 0xE0 && in(at(1), 0xA0, 0xBF) && in(at(2), 0x80, 0xBF)) len = 3;
    else if ((in(c, 0xE1, 0xEC) || in(c, 0xEE, 0xEF)) && in(at(1), 0x80, 0xBF) && in(at(2), 0x80, 0xBF)) len = 3;
    else if (c == 0xED && in(at(1), 0x80, 0x9F) && in(at(2), 0x80, 0xBF)) len = 3;
    else if (c == 0xF0 && in(at(1), 0x90, 0xBF) && in(at(2), 0x80, 0xBF) && in(at(3), 0x80, 0xBF)) len = 4;
    else if (in(c, 0xF1, 0xF3) && in(at(1), 0x80, 0xBF) && in(at(2), 0x80, 0xBF) && in(at(3), 0x80, 0xBF)) len = 4;
    else if (c == 0xF4 && in(at(1), 0x80, 0x8F) && in(at(2), 0x80, 0xBF) && in(at(3), 0x80, 0xBF)) len = 4;
    if (len == 0) return false;
    i += len;
  }
  return true;
}

// The tags a text stands for, as normalize.hpp documents them: after a
// leading separator (0x1F) the pieces between separators, otherwise a
// person's list split at ';' and ','; each trimmed, empty ones dropped.
inline std::vector<std::string> documented_tags(std::string_view text) {
  const bool joined = !text.empty() && text.front() == '\x1f';
  if (joined) text.remove_prefix(1);
  std::vector<std::string> out;
  std::string piece;
  auto flush = [&] {
    const size_t first = piece.find_first_not_of(" \t\n\r");
    if (first != std::string::npos) out.push_back(piece.substr(first, piece.find_last_not_of(" \t\n\r") + 1 - first));
    piece.clear();
  };
  for (char c : text) {
    if (joined ? c == '\x1f' : c == ';' || c == ',') flush();
    else piece.push_back(c);
  }
  flush();
  return out;
}

// What the store asks of a JSON value before it keeps it as custom fields:
// no key repeated in one object, and no deeper nesting than kMaxCustomDepth.
// Followed through the events of nlohmann's parser callback, as the
// document it builds keeps only the last of repeated keys.
class JsonShape {
 public:
  void reset() { *this = JsonShape(); }
  template <class Json>
  void event(typename Json::parse_event_t e, const Json& parsed) {
    using E = typename Json::parse_event_t;
    if (e == E::object_start || e == E::array_start) {
      depth_ = std::max(depth_, ++open_);
      if (e == E::object_start) keys_.emplace_back();
    } else if (e == E::object_end || e == E::array_end) {
      --open_;
      if (e == E::object_end && !keys_.empty()) keys_.pop_back();
    } else if (e == E::key && !keys_.empty() && !keys_.back().insert(parsed.template get<std::string>()).second) {
      repeated_key_ = true;
    }
  }
  bool repeated_key() const { return repeated_key_; }
  int depth() const { return depth_; }  // containers inside one another, the outermost counting 1

 private:
  std::vector<std::set<std::string>> keys_;  // per open object, its keys so far
  int open_ = 0;
  int depth_ = 0;
  bool repeated_key_ = false;
};

// The text of `s` as a C string literal, so that a report shows NULs,
// control bytes and broken UTF-8 as they are.
inline std::string shown(std::string_view s) {
  constexpr size_t kShown = 200;
  std::string out = "\"";
  for (size_t i = 0; i < s.size() && i < kShown; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c >= 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + (s.size() > kShown ? "\"..." : "\"");
}

// Runs `body` and says whether the core refused it with one of its own
// errors, the only way it may refuse outside text. Any other exception is a
// finding: it would reach Python as a bare RuntimeError or terminate.
template <class Body>
bool refused(Body&& body) {
  try {
    body();
    return false;
  } catch (const crmcore::Error&) {
    return true;
  } catch (const std::exception& e) {
    finding(std::string("exception other than crmcore::Error: ") + typeid(e).name() + ": " + e.what());
  } catch (...) {
    finding("exception that is not a std::exception");
  }
}

// The input as a file the JSON reader can open by path: an anonymous memory
// file named through /proc/self/fd, so that nothing is left on disk and
// parallel jobs do not share a name.
class InputFile {
 public:
  InputFile() {
    fd_ = memfd_create("crmcore-fuzz", 0);
    if (fd_ < 0) {
      std::perror("memfd_create");
      std::abort();
    }
    path_ = "/proc/self/fd/" + std::to_string(fd_);
  }
  ~InputFile() { close(fd_); }
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  const std::string& write(const uint8_t* data, size_t size) {
    if (ftruncate(fd_, 0) != 0 || pwrite(fd_, data, size, 0) != static_cast<ssize_t>(size)) {
      std::perror("writing the fuzz input");
      std::abort();
    }
    return path_;
  }

 private:
  int fd_ = -1;
  std::string path_;
};

}  // namespace crmcore::fuzz
