#pragma once
// The core's error types. The binding layer maps each to a Python exception
// of the crmcore hierarchy (crm.Error and its subclasses).
#include <cstdint>
#include <stdexcept>
#include <string>

namespace crmcore {

// Base of every error the core raises on purpose.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Bad input: names the record kind, the row (or record id), the field and why.
class ValidationError : public Error {
 public:
  ValidationError(std::string kind, int64_t row, std::string field, std::string reason,
                  int64_t record_id = -1)
      : Error(compose(kind, row, field, reason, record_id)),
        kind_(std::move(kind)),
        row_(row),
        field_(std::move(field)),
        reason_(std::move(reason)),
        record_id_(record_id) {}

  const std::string& kind() const { return kind_; }
  int64_t row() const { return row_; }
  const std::string& field() const { return field_; }
  const std::string& reason() const { return reason_; }
  int64_t record_id() const { return record_id_; }

 private:
  static std::string compose(const std::string& kind, int64_t row, const std::string& field,
                             const std::string& reason, int64_t record_id) {
    std::string msg = kind;
    if (row >= 0) msg += " row " + std::to_string(row);
    if (record_id >= 0) msg += " (id " + std::to_string(record_id) + ")";
    if (!field.empty()) msg += ", field '" + field + "'";
    return msg + ": " + reason;
  }
  std::string kind_;
  int64_t row_;
  std::string field_;
  std::string reason_;
  int64_t record_id_;
};

// A record, node or column that was asked for and does not exist.
class NotFound : public Error {
 public:
  using Error::Error;
};

// The storage engine failed (I/O, locking, corruption).
class StorageError : public Error {
 public:
  using Error::Error;
};

// A long computation was stopped by its cancellation check (Ctrl-C in Python).
class Interrupted : public Error {
 public:
  Interrupted() : Error("interrupted") {}
};

}  // namespace crmcore
