#pragma once
// A row's values as the store checks them before they are written: each
// field's value converted to its type and checked against its rules, the
// tags and custom fields read and normalized. Private to the store.
#include <cstdint>
#include <string>
#include <vector>

#include "crmcore/records/schema.hpp"
#include "crmcore/records/table.hpp"
#include "sqlite.hpp"

namespace crmcore::records {

// A row's value for one field, ready to bind. Text either points into the
// caller's column (no copy) or into `owned`.
struct Value {
  enum class Type { Null, Int, Real, Text } type = Type::Null;
  int64_t i = 0;
  double r = 0;
  const std::string* text = nullptr;
  std::string owned;

  void set_null() { type = Type::Null; }
  void set_int(int64_t v) { type = Type::Int, i = v; }
  void set_real(double v) { type = Type::Real, r = v; }
  void set_text(const std::string& s) { type = Type::Text, text = &s; }
  void own_text(std::string s) {
    owned = std::move(s);
    type = Type::Text;
    text = &owned;
  }
};

// A problem with one field of the row being written.
struct RowFailure {
  std::string field;
  std::string reason;
};

// The tags and custom columns of a row, normalized.
struct Extras {
  std::vector<std::string> tags;
  std::string tags_text;
  std::string custom;
};

// A value as an error message shows it (see values.cpp).
std::string quote(const std::string& s);
// Converts a text (from a text column or a default) to the field's type;
// throws RowFailure.
void coerce_text(const Field& f, const std::string& s, Value& out);
// The value of `row` of the caller's column `col` (null: no such column) for
// field `f`, converted and checked; throws RowFailure.
void coerce(const Field& f, const Column* col, size_t row, Value& out);
// The field's rules on a converted value (`out` null: missing): its
// default, required, range, how far in the future, labels (a label becomes
// its value) and choices; throws RowFailure. coerce ends with it.
void check_value(const Field& f, Value& out);
void bind_value(sql::Statement& st, int index, const Value& v);
// Reads a row's tags and custom fields; throws RowFailure.
void read_extras(const Column* tags, const Column* custom, size_t row, Extras& out);
// Tags given one by one (add_tags, a rule's tag action) read as a record's
// tags are: each one tag, valid text without control characters, a tag
// given twice kept once; throws RowFailure.
std::vector<std::string> read_tag_list(const std::vector<std::string>& tags);
// Normalized lookup values of a phone or e-mail field (several per field).
std::vector<std::string> lookup_values(const Field& f, const std::string& text);

}  // namespace crmcore::records
