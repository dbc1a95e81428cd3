#include "crmcore/version.hpp"

#include <sqlite3.h>

#include <nlohmann/json.hpp>

#if __has_include(<dlfcn.h>)
#include <dlfcn.h>
#define CRMCORE_HAS_DLADDR 1
#endif

namespace crmcore {

const char* version() { return "0.1.0"; }

BuildInfo build_info() {
  BuildInfo info;
  info.sqlite = sqlite3_libversion();
  info.sqlite_headers = SQLITE_VERSION;
#ifdef CRMCORE_HAS_DLADDR
  // Which file the running SQLite came from: a wheel carries its own, and a
  // bug report should say whether that one or the system's was loaded.
  Dl_info where{};
  if (dladdr(reinterpret_cast<void*>(&sqlite3_libversion), &where) && where.dli_fname) {
    const std::string file = where.dli_fname;
    if (file.find("sqlite") != std::string::npos) info.sqlite_file = file;
  }
#endif
  info.json = std::to_string(NLOHMANN_JSON_VERSION_MAJOR) + "." + std::to_string(NLOHMANN_JSON_VERSION_MINOR) + "." +
              std::to_string(NLOHMANN_JSON_VERSION_PATCH);
#if defined(__clang__)
  info.compiler = "clang " __clang_version__;
#elif defined(__GNUC__)
  info.compiler = "GCC " __VERSION__;
#elif defined(_MSC_VER)
  info.compiler = "MSVC " + std::to_string(_MSC_FULL_VER);
#else
  info.compiler = "unknown";
#endif
  info.cplusplus = __cplusplus;
  return info;
}

}  // namespace crmcore
