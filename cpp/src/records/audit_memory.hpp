#pragma once
// An upsert's update entries, kept in memory until the write is sealed.
//
// A bulk update used to leave its record in three steps: the capture
// trigger built each updated row's changes as JSON inside the UPDATE, an
// unsealed entry per record went into audit_log, and seal_audit read those
// entries back, deleted them and wrote them again sealed. An upsert already
// reads the rows it updates (to skip the unchanged ones), so it reads the
// old values there, pauses the trigger for its own UPDATE, and hands its
// entries to seal_audit here, which writes them once, sealed. The content
// and the chain are the same as by the trigger path (audit.cpp).
#include <sqlite3.h>

#include <cstdint>
#include <string>
#include <vector>

namespace crmcore::records {

struct Kind;

struct AuditUpdate {
  int64_t after_seq;  // the newest audit_log entry when this one was made: it goes after it
  int64_t at;
  std::string kind;
  int64_t id;
  std::string changes;  // {column: [old, new], ...}, as the capture trigger writes it
};

struct AuditMemory {
  bool active = false;  // update_existing keeps its entries here (an upsert on SQLite)
  std::vector<AuditUpdate> entries;
};

// While alive (and `on`), the connection's audit capture triggers note
// nothing on this thread: the caller captures the changes itself. Given a
// connection and a kind, the kind's update trigger is also taken off the
// connection meanwhile and put back after: a paused trigger still ran as a
// sub-program per updated row, loading every column old and new to find its
// WHEN false (1.4 us a row, ~0.07 s of a 50,000-row update).
class CapturePaused {
 public:
  explicit CapturePaused(bool on, sqlite3* db = nullptr, const Kind* kind = nullptr);
  ~CapturePaused();
  CapturePaused(const CapturePaused&) = delete;
  CapturePaused& operator=(const CapturePaused&) = delete;

 private:
  bool on_;
  sqlite3* db_;
  const Kind* kind_;
};

// While alive, the update entries of `memory` are kept there rather than
// written to audit_log (`on`: an upsert on SQLite).
class UpdatesInMemory {
 public:
  UpdatesInMemory(AuditMemory& memory, bool on) : memory_(memory) { memory_.active = on; }
  ~UpdatesInMemory() { memory_.active = false; }
  UpdatesInMemory(const UpdatesInMemory&) = delete;
  UpdatesInMemory& operator=(const UpdatesInMemory&) = delete;

 private:
  AuditMemory& memory_;
};

}  // namespace crmcore::records
