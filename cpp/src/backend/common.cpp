// What both engines share: error mapping and the SQL text helpers.
#include <algorithm>
#include <cctype>
#include <stdexcept>

#include "crmcore/backend/backend.hpp"

namespace crmcore::backend {

std::string constraint_kind(std::string_view code) {
  if (code == sqlstate::kUniqueViolation) return "unique violation";
  if (code == sqlstate::kForeignKeyViolation) return "foreign key violation";
  if (code == sqlstate::kNotNullViolation) return "not-null violation";
  if (code == sqlstate::kCheckViolation) return "check violation";
  return "";
}

void raise(const std::string& what, const std::string& code, const std::string& table,
           const std::string& column, const std::string& constraint) {
  std::string kind = constraint_kind(code);
  if (!kind.empty()) {
    std::string reason = kind + " (SQLSTATE " + code + ")";
    if (!constraint.empty()) reason += " of constraint '" + constraint + "'";
    reason += ": " + what;
    throw ConstraintViolation(table.empty() ? "table" : table, column.empty() ? constraint : column, reason, code,
                              constraint);
  }
  // Both codes mean the transaction lost a race, not that it was wrong.
  bool retryable = code == sqlstate::kSerializationFailure || code == sqlstate::kDeadlockDetected;
  std::string msg = what;
  if (!code.empty()) msg += " (SQLSTATE " + code + (retryable ? ", retryable" : "") + ")";
  throw BackendError(msg, code, retryable);
}

void check_identifier(const std::string& name) {
  bool ok = !name.empty() && !(name[0] >= '0' && name[0] <= '9');
  for (char c : name)
    ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_');
  if (!ok) throw std::invalid_argument("not a plain SQL identifier: '" + name + "'");
}

const std::string& Connection::checked(const std::string& name) {
  check_identifier(name);
  return name;
}

std::string column_list(const std::string& table, const std::vector<std::string>& columns,
                        const std::vector<ColumnType>& types) {
  if (columns.size() != types.size() || columns.empty())
    throw std::invalid_argument("bulk load: one type per column, at least one column");
  check_identifier(table);
  std::string out;
  for (size_t i = 0; i < columns.size(); ++i) {
    check_identifier(columns[i]);
    out += (i ? ", " : "") + columns[i];
  }
  return out;
}

namespace {

// The end of a dollar-quote tag starting at `i` ("$$" or "$tag$"), or npos.
size_t dollar_tag_end(std::string_view sql, size_t i) {
  size_t j = i + 1;
  while (j < sql.size() && (std::isalnum(static_cast<unsigned char>(sql[j])) || sql[j] == '_')) ++j;
  if (j < sql.size() && sql[j] == '$' && !(j > i + 1 && std::isdigit(static_cast<unsigned char>(sql[i + 1]))))
    return j + 1;
  return std::string_view::npos;
}

}  // namespace

std::string number_placeholders(std::string_view sql, int* count) {
  std::string out;
  out.reserve(sql.size() + 16);
  int n = 0;
  size_t i = 0;
  // Copies sql[i..end) through unchanged and moves on.
  auto copy_to = [&](size_t end) {
    end = std::min(end, sql.size());
    out.append(sql.substr(i, end - i));
    i = end;
  };
  while (i < sql.size()) {
    char c = sql[i];
    if (c == '\'' && i > 0 && (sql[i - 1] == 'E' || sql[i - 1] == 'e') &&
        (i == 1 || !(std::isalnum(static_cast<unsigned char>(sql[i - 2])) || sql[i - 2] == '_'))) {
      // E'...': backslash escapes, so \' does not end it.
      size_t j = i + 1;
      while (j < sql.size() && sql[j] != '\'') j += sql[j] == '\\' ? 2 : 1;
      copy_to(j + 1);
    } else if (c == '\'' || c == '"') {
      // A quote inside is doubled (''), which this loop reads as the end of
      // one literal and the start of the next: the same text either way.
      size_t end = sql.find(c, i + 1);
      copy_to(end == std::string_view::npos ? sql.size() : end + 1);
    } else if (c == '-' && i + 1 < sql.size() && sql[i + 1] == '-') {
      copy_to(sql.find('\n', i));
    } else if (c == '/' && i + 1 < sql.size() && sql[i + 1] == '*') {
      size_t end = sql.find("*/", i + 2);
      copy_to(end == std::string_view::npos ? sql.size() : end + 2);
    } else if (c == '$' && dollar_tag_end(sql, i) != std::string_view::npos) {
      size_t tag_end = dollar_tag_end(sql, i);
      std::string_view tag = sql.substr(i, tag_end - i);
      size_t close = sql.find(tag, tag_end);
      copy_to(close == std::string_view::npos ? sql.size() : close + tag.size());
    } else if (c == '?') {
      // SQLite's rules, which the store's SQL is written to: ?NNN is
      // parameter NNN (the store reuses ?1), a bare ? is one past the
      // largest number so far.
      size_t j = i + 1;
      while (j < sql.size() && std::isdigit(static_cast<unsigned char>(sql[j]))) ++j;
      int number = j > i + 1 ? std::stoi(std::string(sql.substr(i + 1, j - i - 1))) : n + 1;
      n = std::max(n, number);
      out += '$' + std::to_string(number);
      i = j;
    } else {
      out += c;
      ++i;
    }
  }
  if (count) *count = n;
  return out;
}

}  // namespace crmcore::backend
