#pragma once
#include <string>

namespace crmcore {
const char* version();

// What this build of the core was made with and runs on, for bug reports.
struct BuildInfo {
  std::string sqlite;          // the SQLite library the core runs with (sqlite3_libversion)
  std::string sqlite_headers;  // the SQLite headers it was compiled against
  std::string sqlite_file;     // the shared library that holds it ("" when linked in statically)
  std::string json;            // nlohmann/json, compiled in (header-only)
  std::string compiler;
  long cplusplus;              // the C++ standard (__cplusplus)
};
BuildInfo build_info();
}  // namespace crmcore
