// What keeps a store file to its owner: created private, and checked for
// schema objects (triggers, views) that another program slipped in.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "crmcore/errors.hpp"
#include "store_impl.hpp"

namespace crmcore::records {

bool is_own_schema_object(const std::string& name) {
  // crmcore's triggers are all TEMP (the connection's own: stage_rules.cpp,
  // audit.cpp), never in the file's schema, and it makes no views; so the
  // list of the file's own is empty. A name is added here when crmcore
  // starts keeping a trigger or view in the file.
  static const char* const kOwn[] = {nullptr};
  for (const char* const* own = kOwn; *own; ++own)
    if (name == *own) return true;
  return false;
}

std::string folder_problem(const std::string& path) {
  if (sql::names_no_file(path)) return "";  // a URI is SQLite's to interpret
  const std::string folder = sql::folder_of(path);
  if (::access(folder.c_str(), F_OK) != 0) return "no such folder '" + folder + "'";
  if (::access(folder.c_str(), W_OK | X_OK) != 0) return "its folder '" + folder + "' is not writable by this process";
  return "";
}

void refuse_unwritable_folder(const std::string& path) {
  const std::string problem = folder_problem(path);
  if (problem.empty()) return;
  // SQLite's own words were "unable to open database file" (a new store)
  // and "attempt to write a readonly database", read as "not a crmcore
  // store" (an existing one): neither named the folder.
  if (::access(path.c_str(), F_OK) != 0)
    throw StorageError("cannot make a store at '" + path + "': " + problem +
                       " (a store keeps its journal, -wal and -shm, beside the file); nothing was made");
  throw StorageError("cannot open '" + path + "' to write: " + problem +
                     " (a store keeps its journal, -wal and -shm, beside the file); open it with readonly=True to "
                     "read it, or move it to a writable folder; nothing was opened or made");
}

void create_private_file(const std::string& path) {
  // O_EXCL: an existing file (a store, or anything else) keeps its mode;
  // the explicit fchmod undoes any umask that would widen or narrow 0600.
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, S_IRUSR | S_IWUSR);
  if (fd < 0) {
    if (errno == EEXIST) return;
    // Left for SQLite to report (a missing folder, no permission), with its own words.
    return;
  }
  const int rc = ::fchmod(fd, S_IRUSR | S_IWUSR);
  const int saved = errno;
  ::close(fd);
  if (rc != 0) throw StorageError("cannot make '" + path + "' private to its owner: " + std::strerror(saved));
}

}  // namespace crmcore::records
