#pragma once
// What the fuzz targets share: how a finding is reported (an abort, so that
// libFuzzer saves the input), the one exception type that is an expected
// refusal, and the input handed to the API that reads files.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <iterator>
#include <string>
#include <string_view>
#include <typeinfo>

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
      "json-repeated-keys",    // a key repeated in a record shifts that column's values into the next records
      "json-empty-records",    // records with no field kept ([{}]) vanish: no id, no error
      "json-big-uint-quoted",  // a number above INT64_MAX inside custom (or any object member) comes back a string
      "number-text-nul",       // "12\0abc" is read as the number 12
      "number-text-hex",       // "0x1A" is read as the number 26
      "time-offset-range",     // parse_time takes offsets beyond 23:59 ("+99:99")
      "time-offset-colon",     // parse_time takes an offset with a colon and no minutes ("+08:")
      "phone-86-00",           // "+86 00 ..." keeps the 00, which a second pass reads as an international prefix
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
