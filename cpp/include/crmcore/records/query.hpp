#pragma once
// Conditions on records, for Store::query: comparisons, ranges, membership,
// missing values, substrings and prefixes, tags and custom-field keys,
// combined as an OR of AND-groups (the disjunctive form of pyarrow's and
// pandas.read_parquet's `filters=`).
//
// Field names are checked against the kind's schema before any SQL is
// made, and every value reaches SQL as a bound parameter.
#include <cstdint>
#include <string>
#include <vector>

#include "crmcore/records/table.hpp"

namespace crmcore::records {

enum class Op {
  Eq,          // "==" or "=": one value; a missing value means Missing
  Ne,          // "!=": one value; a missing value means NotMissing
  Lt,          // "<"
  Le,          // "<="
  Gt,          // ">"
  Ge,          // ">="
  Between,     // "between": two values, both ends included
  In,          // "in": any number of values; a missing one also matches missing
  NotIn,       // "not in": present, and none of the values
  Missing,     // "is null": no value (tags: no tags; custom.<key>: no such key, or null)
  NotMissing,  // "not null" / "is not null"
  Contains,    // "contains": text holding any of the values, case as given
  IContains,   // "icontains": the same, ASCII letters in either case
  StartsWith,  // "startswith": text beginning with any of the values, case as given
  IStartsWith, // "istartswith": the same, ASCII letters in either case
  AnyTag,      // "any": tags holding at least one of the values
  AllTags,     // "all": tags holding every one of the values
  NoTag,       // "none": tags holding none of the values
};

// Reads an operator as written ("==", "not in", "is null", ...); throws
// ValidationError naming `field` and the known operators otherwise.
Op parse_op(const std::string& kind, const std::string& field, const std::string& text);
// The canonical spelling of an operator, for messages.
const char* to_string(Op op);

struct Condition {
  // A field of the kind; "id", "created_at", "updated_at"; "tags"; or
  // "custom.<key>" (nested keys joined by '.', as "custom.address.city").
  std::string field;
  Op op = Op::Eq;
  // The values, in one column of any storage (a missing entry is a missing
  // value). Each is converted with the field's type exactly as an import
  // converts it: text "2025-01-05" is a date for a time field, a number is
  // refused for one. Custom keys have no declared type: their values keep
  // the type they are given.
  Column values;
};

// Conditions that must all hold.
using AllOf = std::vector<Condition>;
// AND-groups of which at least one must hold; no group at all selects every record.
using AnyOf = std::vector<AllOf>;

// The condition a keyword of Store::find (and of db.find in Python) stands
// for: "tag" is the tags holding any of the values, "name" holds any of the
// values in either case of ASCII letters, any other field equals the value
// (or one of the values, when there are several; one missing value means a
// missing field). Phone and e-mail fields compare after normalization, as
// every condition on them does.
Condition keyword_condition(const std::string& kind, const std::string& field, Column values);

struct OrderBy {
  std::string field;  // as for Condition, "tags" excepted
  bool descending = false;
};

}  // namespace crmcore::records
