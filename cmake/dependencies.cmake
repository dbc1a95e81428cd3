# Finds what the core is built from. When something is missing, the message
# names the package that provides it, for Debian/Ubuntu and for pip.

# Stops the configure step with what is missing and where to get it.
function(crmcore_missing what)
  string(REPLACE ";" "\n  " ways "${ARGN}")
  message(FATAL_ERROR "crmcore needs ${what}, and CMake found none. Install it with one of:\n  ${ways}\n"
                      "(or pip install crmcore, whose wheels carry what they need)")
endfunction()

find_package(Threads REQUIRED)

find_package(SQLite3 QUIET)
if(NOT SQLite3_FOUND)
  crmcore_missing("SQLite 3 (the library and sqlite3.h)"
                  "Debian/Ubuntu: sudo apt-get install libsqlite3-dev"
                  "Fedora/RHEL:   sudo dnf install sqlite-devel"
                  "conda:         conda install sqlite"
                  "or, if it is installed elsewhere, tell CMake: -DSQLite3_ROOT=<prefix>")
endif()
# CMake 4.1 renamed the imported target; older versions know only the first name.
if(TARGET SQLite3::SQLite3)
  set(CRMCORE_SQLITE_TARGET SQLite3::SQLite3)
else()
  set(CRMCORE_SQLITE_TARGET SQLite::SQLite3)
endif()

# nlohmann/json is header-only. First choice: the pinned copy from PyPI's
# nlohmann-json in the Python running the build (a wheel build installs it
# from [build-system] requires, so every wheel has the same version); else an
# installed one (Debian's nlohmann-json3-dev). CMAKE_DISABLE_FIND_PACKAGE_
# nlohmann_json turns both off, so that the message below can be tested.
set(CRMCORE_JSON_FROM "")
if(Python_EXECUTABLE AND NOT CMAKE_DISABLE_FIND_PACKAGE_nlohmann_json)
  execute_process(
    COMMAND "${Python_EXECUTABLE}" -c
            "import importlib.util as u; s = u.find_spec('nlohmann_json'); print(s.submodule_search_locations[0] if s else '')"
    OUTPUT_VARIABLE _crmcore_json_package OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
  if(_crmcore_json_package AND EXISTS "${_crmcore_json_package}/include/nlohmann/json.hpp")
    add_library(nlohmann_json::nlohmann_json INTERFACE IMPORTED)
    set_target_properties(nlohmann_json::nlohmann_json PROPERTIES
                          INTERFACE_INCLUDE_DIRECTORIES "${_crmcore_json_package}/include")
    set(CRMCORE_JSON_FROM "the Python package nlohmann-json (${_crmcore_json_package})")
  endif()
endif()
if(NOT CRMCORE_JSON_FROM)
  find_package(nlohmann_json 3 QUIET)
  if(NOT nlohmann_json_FOUND)
    crmcore_missing("nlohmann/json 3 (header-only)"
                    "pip:           pip install nlohmann-json==3.12.0  (into the Python that runs the build)"
                    "Debian/Ubuntu: sudo apt-get install nlohmann-json3-dev"
                    "Fedora/RHEL:   sudo dnf install json-devel")
  endif()
  set(CRMCORE_JSON_FROM "nlohmann_json ${nlohmann_json_VERSION} (${nlohmann_json_DIR})")
endif()
message(STATUS "crmcore: nlohmann/json from ${CRMCORE_JSON_FROM}")

if(CRMCORE_BUILD_PYTHON)
  find_package(pybind11 CONFIG QUIET)
  if(NOT pybind11_FOUND)
    crmcore_missing("pybind11 (its CMake files)"
                    "pip:           pip install pybind11, then pass -Dpybind11_DIR=$(python -m pybind11 --cmakedir)"
                    "Debian/Ubuntu: sudo apt-get install pybind11-dev")
  endif()
endif()

# PostgreSQL's client library (libpq) for the shared-server backend
# (cpp/src/backend/postgres.cpp). Optional: without it crmcore builds with
# SQLite only, and says so.
option(CRMCORE_WITH_POSTGRES "Build the PostgreSQL backend when libpq is found" ON)
set(CRMCORE_HAVE_POSTGRES OFF)
if(CRMCORE_WITH_POSTGRES)
  find_package(PostgreSQL QUIET)
  if(PostgreSQL_FOUND)
    set(CRMCORE_HAVE_POSTGRES ON)
    message(STATUS "crmcore: PostgreSQL backend with libpq ${PostgreSQL_VERSION_STRING} (${PostgreSQL_LIBRARIES})")
  else()
    # NOTICE: one unformatted line on stderr, seen even in pip's quiet output.
    message(NOTICE "crmcore: building WITHOUT the PostgreSQL backend: libpq not found "
                   "(Debian/Ubuntu: sudo apt-get install libpq-dev)")
  endif()
endif()
