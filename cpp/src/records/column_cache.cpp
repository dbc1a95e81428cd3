// The store's data mark and its column cache (column_cache.hpp), and
// conditions evaluated on cached columns as Store::query evaluates them.
#include "crmcore/records/column_cache.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <string_view>
#include <stdexcept>
#include <unordered_map>

#include "crmcore/errors.hpp"
#include "crmcore/records/normalize.hpp"
#include "query_values.hpp"
#include "store_impl.hpp"

namespace crmcore::records {

DataMark Store::data_mark() const {
  std::lock_guard<std::mutex> lock(mutex_);
  DataMark mark;
  // seq is the audit log's key: the newest entry is one step down its index.
  auto& newest = impl_->prepared("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1");
  if (newest.step()) {
    mark.seq = newest.int64(0);
    if (!newest.is_null(1)) mark.hash = newest.text(1);
  }
  newest.reset();
  // Another connection's commit changes data_version (this connection's own
  // do not: the audit entry above covers them), also a program writing the
  // file without crmcore. PostgreSQL has no such counter: its writes all
  // leave audit entries (the capture trigger, pgwrite).
  if (impl_->db.is_sqlite()) {
    auto& version = impl_->prepared("PRAGMA data_version");
    if (version.step()) mark.version = version.int64(0);
    version.reset();
  }
  return mark;
}

ColumnCache& Store::column_cache() const { return impl_->columns; }

size_t CachedColumn::bytes() const {
  size_t n = ints.size() * 8 + reals.size() * 8 + valid.size() + codes.size() * 4 + offsets.size() * 8;
  for (const auto& d : dictionary) n += d.size() + sizeof(std::string);
  return n;
}

const CachedColumn& ColumnSnapshot::at(const std::string& name) const {
  auto it = columns.find(name);
  if (it == columns.end()) throw std::out_of_range("the snapshot has no column " + name);
  return *it->second;
}

namespace {

// Text coded by first appearance: a store repeats a handful of statuses or
// regions a million times, so each row costs four bytes and one look-up of
// the bytes SQLite hands out (no string is made for a value seen before).
class Coder {
 public:
  explicit Coder(CachedColumn& out) : out_(out) {}
  int32_t of(std::string_view text) {
    // Rows often repeat the previous value (imports in order, sorted data).
    if (last_ >= 0 && *kept_[static_cast<size_t>(last_)] == text) return last_;
    auto it = code_.find(text);
    if (it == code_.end()) {
      // The map's keys view strings that never move (a deque of owned copies).
      kept_.push_back(std::make_unique<std::string>(text));
      it = code_.emplace(*kept_.back(), static_cast<int32_t>(kept_.size() - 1)).first;
    }
    return last_ = it->second;
  }
  void finish() {
    out_.dictionary.reserve(kept_.size());
    for (auto& k : kept_) out_.dictionary.push_back(std::move(*k));
  }

 private:
  CachedColumn& out_;
  std::vector<std::unique_ptr<std::string>> kept_;
  std::unordered_map<std::string_view, int32_t> code_;
  int32_t last_ = -1;
};

// One column being filled from the rows as they are stepped.
struct Filler {
  CachedColumn col;
  Column::Storage storage;
  bool tags;
  Coder coder{col};
  std::string scratch;  // another engine's text

  Filler(Column::Storage s, bool is_tags) : storage(s), tags(is_tags) {
    col.type = s == Column::Storage::Int    ? CachedColumn::Type::Int
               : s == Column::Storage::Real ? CachedColumn::Type::Real
               : tags                       ? CachedColumn::Type::Tags
                                            : CachedColumn::Type::Text;
    if (tags) col.offsets.push_back(0);
  }
  Filler(const Filler&) = delete;

  void add(const sql::Statement& st, int i) {
    const bool null = st.is_null(i);
    switch (col.type) {
      case CachedColumn::Type::Int:
        col.ints.push_back(null ? 0 : st.int64(i));
        col.valid.push_back(null ? 0 : 1);
        break;
      case CachedColumn::Type::Real:
        col.reals.push_back(null ? NAN : st.real(i));
        col.valid.push_back(null ? 0 : 1);
        break;
      case CachedColumn::Type::Text: col.codes.push_back(null ? -1 : coder.of(st.text_view(i, scratch))); break;
      case CachedColumn::Type::Tags:
        if (!null) add_tags(st.text_view(i, scratch));
        col.offsets.push_back(static_cast<int64_t>(col.codes.size()));
        break;
    }
  }
  // As split_tags reads the stored text: separator-led tags trimmed, empty
  // ones skipped; any other form (older stores) through split_tags itself.
  void add_tags(std::string_view text) {
    if (text.empty()) return;
    if (text.front() != kTagSeparator) {
      for (const auto& tag : split_tags(text)) col.codes.push_back(coder.of(tag));
      return;
    }
    size_t start = 1;
    for (size_t i = 1; i <= text.size(); ++i)
      if (i == text.size() || text[i] == kTagSeparator) {
        std::string_view tag = text.substr(start, i - start);
        if (needs_trim(tag)) {
          for (const auto& t : split_tags(std::string(1, kTagSeparator) + std::string(tag))) col.codes.push_back(coder.of(t));
        } else if (!tag.empty()) {
          col.codes.push_back(coder.of(tag));
        }
        start = i + 1;
      }
  }
  static bool needs_trim(std::string_view tag) {
    return !tag.empty() && (std::isspace(static_cast<unsigned char>(tag.front())) ||
                            std::isspace(static_cast<unsigned char>(tag.back())));
  }
  std::shared_ptr<const CachedColumn> done() {
    coder.finish();
    // Whole numbers and reals with no gap keep no validity bytes.
    if (std::all_of(col.valid.begin(), col.valid.end(), [](uint8_t v) { return v != 0; })) {
      col.valid.clear();
      col.valid.shrink_to_fit();
    }
    return std::make_shared<const CachedColumn>(std::move(col));
  }
};

}  // namespace

std::shared_ptr<ColumnSnapshot> Store::read_columns(const std::string& kind_name,
                                                    const std::vector<std::string>& fields,
                                                    const Cancel* cancel) const {
  std::lock_guard<std::mutex> lock(mutex_);
  StopWhenAsked stop(impl_->db, cancel);
  const Kind& k = kind(kind_name);
  Table shape = record_table(k, &fields);  // the columns' names checked and typed as select has them
  std::vector<std::unique_ptr<Filler>> fill;
  for (size_t c = 1; c < shape.columns.size(); ++c)
    fill.push_back(std::make_unique<Filler>(shape.columns[c].storage, shape.columns[c].name == kTagsColumn));
  std::vector<int64_t> ids;
  sql::Statement st(impl_->db, "SELECT " + record_columns_sql(shape) + " FROM " + k.name + " ORDER BY id");
  while (st.step()) {
    ids.push_back(st.int64(0));
    for (size_t c = 0; c < fill.size(); ++c) fill[c]->add(st, static_cast<int>(c + 1));
  }
  auto snap = std::make_shared<ColumnSnapshot>();
  snap->ids = std::make_shared<const std::vector<int64_t>>(std::move(ids));
  for (size_t c = 0; c < fill.size(); ++c) snap->columns[shape.columns[c + 1].name] = fill[c]->done();
  return snap;
}

std::shared_ptr<const ColumnSnapshot> ColumnCache::columns(const Store& store, const std::string& kind,
                                                           const std::vector<std::string>& fields,
                                                           const Cancel* cancel) {
  for (const auto& f : fields)
    if (f == kCustomColumn) throw NotFound("the column cache keeps no custom objects: read them with select");
  std::lock_guard<std::mutex> lock(mutex_);
  // A write between reading the mark and reading the columns would give
  // columns newer than their mark, so the mark is read again afterwards and
  // the read done over when it moved (a few tries; then kept by no one).
  for (int attempt = 0;; ++attempt) {
    const DataMark mark = store.data_mark();
    Entry& entry = kinds_[kind];
    if (entry.mark != mark || !entry.ids) {
      entry = Entry{mark, nullptr, {}, 0};
    }
    std::vector<std::string> missing;
    for (const auto& f : fields)
      if (!entry.columns.count(f) && std::find(missing.begin(), missing.end(), f) == missing.end())
        missing.push_back(f);
    if (!missing.empty() || !entry.ids) {
      std::shared_ptr<ColumnSnapshot> got = store.read_columns(kind, missing, cancel);
      const bool moved = store.data_mark() != mark;
      ++reads_;
      if (moved || (entry.ids && *entry.ids != *got->ids)) {
        kinds_.erase(kind);
        if (attempt < 3) continue;
        // Writes keep landing: answer from this read alone, keep nothing.
        got->mark = mark;
        return got;
      }
      if (!entry.ids) {
        entry.bytes += got->ids->size() * 8;
        entry.ids = got->ids;
      }
      for (auto& [name, column] : got->columns) {
        entry.bytes += column->bytes();
        entry.columns[name] = std::move(column);
      }
    }
    auto snap = std::make_shared<ColumnSnapshot>();
    snap->mark = entry.mark;
    snap->ids = entry.ids;
    for (const auto& f : fields) snap->columns[f] = entry.columns.at(f);
    recent_.remove(kind);
    recent_.push_front(kind);
    evict_for(kind);
    return snap;
  }
}

bool ColumnCache::ready(const Store& store, const std::string& kind, const std::vector<std::string>& fields) {
  const DataMark mark = store.data_mark();
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = kinds_.find(kind);
  if (it != kinds_.end() && it->second.ids && it->second.mark == mark &&
      std::all_of(fields.begin(), fields.end(), [&](const std::string& f) { return it->second.columns.count(f) > 0; }))
    return true;
  auto asked = asked_.find(kind);
  if (asked != asked_.end() && asked->second == mark) return true;
  asked_[kind] = mark;
  return false;
}

void ColumnCache::evict_for(const std::string&) {
  // bytes_ is recounted from the entries: cheap (a few kinds) and never drifts.
  auto total = [this] {
    size_t n = 0;
    for (const auto& [name, e] : kinds_) n += e.bytes;
    return n;
  };
  bytes_ = total();
  while (bytes_ > budget_ && !recent_.empty()) {
    // `keep` was just used, so it is first and goes last (alone over the budget).
    const std::string victim = recent_.back();
    recent_.remove(victim);
    kinds_.erase(victim);
    bytes_ = total();
  }
}

void ColumnCache::set_budget(size_t bytes) {
  std::lock_guard<std::mutex> lock(mutex_);
  budget_ = bytes;
  evict_for("");
}

size_t ColumnCache::budget() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return budget_;
}

size_t ColumnCache::bytes() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return bytes_;
}

int64_t ColumnCache::reads() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return reads_;
}

void ColumnCache::clear() {
  std::lock_guard<std::mutex> lock(mutex_);
  kinds_.clear();
  recent_.clear();
  asked_.clear();
  bytes_ = 0;
}

namespace {

bool is_tag_op(Op op) { return op == Op::AnyTag || op == Op::AllTags || op == Op::NoTag; }

// One condition over a cached column, as query.cpp's SQL reads it: a
// comparison with a missing value is false (SQL's unknown), "!=" and
// "not in" never match a missing value, "in" with None also matches one.
class Matcher {
 public:
  Matcher(const Condition& c, const std::vector<QueryValue>& values, const CachedColumn& col)
      : c_(c), values_(values), col_(col) {}

  // Sets keep[r] &= the condition; false when it cannot be evaluated here.
  bool apply(std::vector<uint8_t>& keep) const {
    if (col_.type == CachedColumn::Type::Tags) return tags(keep);
    if (is_tag_op(c_.op)) return false;
    const size_t n = keep.size();
    if (c_.op == Op::Missing || c_.op == Op::NotMissing) {
      const bool want = c_.op == Op::NotMissing;
      for (size_t r = 0; r < n; ++r) keep[r] &= present(r) == want;
      return true;
    }
    if ((c_.op == Op::Eq || c_.op == Op::Ne) && values_.front().type == Value::Type::Null) {
      const bool want = c_.op == Op::Ne;
      for (size_t r = 0; r < n; ++r) keep[r] &= present(r) == want;
      return true;
    }
    bool missing_in_list = false;
    std::vector<const QueryValue*> list;
    for (const auto& v : values_) {
      if (v.type == Value::Type::Null) missing_in_list = true;
      else list.push_back(&v);
    }
    if (c_.op != Op::In && c_.op != Op::NotIn && list.size() != values_.size()) return false;  // the store refuses it
    if (c_.op == Op::In || c_.op == Op::NotIn) {
      if (col_.type == CachedColumn::Type::Text) return text_in(keep, list, missing_in_list);
      for (size_t r = 0; r < n; ++r) {
        if (!keep[r]) continue;
        if (!present(r)) {
          keep[r] = c_.op == Op::In && missing_in_list;
          continue;
        }
        bool found = false;
        for (const QueryValue* v : list) found = found || compare(r, *v) == 0;
        keep[r] = c_.op == Op::In ? found : !found;
      }
      return true;
    }
    for (size_t r = 0; r < n; ++r) {
      if (!keep[r]) continue;
      if (!present(r)) {
        keep[r] = 0;
        continue;
      }
      const int a = compare(r, values_[0]);
      bool ok = false;
      switch (c_.op) {
        case Op::Eq: ok = a == 0; break;
        case Op::Ne: ok = a != 0 && a != kUnordered; break;
        case Op::Lt: ok = a == -1; break;
        case Op::Le: ok = a == -1 || a == 0; break;
        case Op::Gt: ok = a == 1; break;
        case Op::Ge: ok = a == 1 || a == 0; break;
        case Op::Between: {
          const int b = compare(r, values_[1]);
          ok = (a == 1 || a == 0) && (b == -1 || b == 0);
          break;
        }
        default: return false;
      }
      keep[r] = ok;
    }
    return true;
  }

 private:
  static constexpr int kUnordered = 2;

  bool present(size_t r) const {
    return col_.type == CachedColumn::Type::Text ? col_.codes[r] >= 0 : col_.present(r);
  }

  // -1, 0, 1 as the row's value is below, equal to or above v; kUnordered
  // for values of no common order (text against a number).
  int compare(size_t r, const QueryValue& v) const {
    switch (col_.type) {
      case CachedColumn::Type::Int:
        if (v.type == Value::Type::Int) return col_.ints[r] < v.i ? -1 : col_.ints[r] > v.i;
        if (v.type == Value::Type::Real) return three(static_cast<double>(col_.ints[r]), v.r);
        return kUnordered;
      case CachedColumn::Type::Real:
        if (v.type == Value::Type::Real) return three(col_.reals[r], v.r);
        if (v.type == Value::Type::Int) return three(col_.reals[r], static_cast<double>(v.i));
        return kUnordered;
      case CachedColumn::Type::Text: {
        if (v.type != Value::Type::Text) return kUnordered;
        // Byte order, as SQLite's BINARY and PostgreSQL's "C" collation.
        const int c = col_.dictionary[static_cast<size_t>(col_.codes[r])].compare(v.text);
        return c < 0 ? -1 : c > 0;
      }
      default: return kUnordered;
    }
  }
  static int three(double a, double b) { return a < b ? -1 : a > b ? 1 : a == b ? 0 : kUnordered; }

  // in / not in on coded text: the wanted codes once, then one look-up a row.
  bool text_in(std::vector<uint8_t>& keep, const std::vector<const QueryValue*>& list, bool missing) const {
    std::vector<uint8_t> wanted(col_.dictionary.size(), 0);
    for (const QueryValue* v : list) {
      if (v->type != Value::Type::Text) continue;
      auto it = std::find(col_.dictionary.begin(), col_.dictionary.end(), v->text);
      if (it != col_.dictionary.end()) wanted[static_cast<size_t>(it - col_.dictionary.begin())] = 1;
    }
    for (size_t r = 0; r < keep.size(); ++r) {
      const int32_t code = col_.codes[r];
      if (code < 0) keep[r] &= c_.op == Op::In && missing;
      else keep[r] &= c_.op == Op::In ? wanted[static_cast<size_t>(code)] : !wanted[static_cast<size_t>(code)];
    }
    return true;
  }

  bool tags(std::vector<uint8_t>& keep) const {
    const size_t n = keep.size();
    if (c_.op == Op::Missing || c_.op == Op::NotMissing) {
      for (size_t r = 0; r < n; ++r) keep[r] &= (col_.offsets[r + 1] > col_.offsets[r]) == (c_.op == Op::NotMissing);
      return true;
    }
    if (!is_tag_op(c_.op)) return false;  // the store refuses it, in its words
    // The distinct wanted tags, each as its code (-1: no record has it).
    std::vector<int32_t> wanted;
    std::vector<std::string> seen;
    for (const auto& v : values_) {
      if (std::find(seen.begin(), seen.end(), v.text) != seen.end()) continue;
      seen.push_back(v.text);
      auto it = std::find(col_.dictionary.begin(), col_.dictionary.end(), v.text);
      wanted.push_back(it == col_.dictionary.end() ? -1 : static_cast<int32_t>(it - col_.dictionary.begin()));
    }
    for (size_t r = 0; r < n; ++r) {
      if (!keep[r]) continue;
      size_t held = 0;
      for (int32_t w : wanted) {
        if (w < 0) continue;
        for (int64_t i = col_.offsets[r]; i < col_.offsets[r + 1]; ++i)
          if (col_.codes[static_cast<size_t>(i)] == w) {
            ++held;
            break;
          }
      }
      switch (c_.op) {
        case Op::AnyTag: keep[r] = held > 0; break;
        case Op::AllTags: keep[r] = held == wanted.size(); break;
        default: keep[r] = held == 0; break;
      }
    }
    return true;
  }

  const Condition& c_;
  const std::vector<QueryValue>& values_;
  const CachedColumn& col_;
};

// The column a condition reads from the cache, or "" when it cannot be read
// there (custom keys, phone and e-mail look-ups, substrings).
std::string cached_name(const Kind& k, const Condition& c) {
  if (c.op == Op::Contains || c.op == Op::IContains || c.op == Op::StartsWith || c.op == Op::IStartsWith) return "";
  if (c.field == kTagsColumn || c.field == "id" || c.field == kCreatedColumn || c.field == kUpdatedColumn)
    return c.field;
  const Field* f = k.field(c.field);
  if (!f || f->lookup != Lookup::None) return "";
  return f->name;
}

}  // namespace

std::optional<std::vector<int64_t>> cached_query(const Store& store, const std::string& kind, const AnyOf& filter,
                                                 const Cancel* cancel) {
  const Kind k = store.describe(kind);
  std::vector<std::string> names;
  std::vector<std::vector<std::vector<QueryValue>>> values(filter.size());
  for (size_t g = 0; g < filter.size(); ++g)
    for (const auto& c : filter[g]) {
      const std::string name = cached_name(k, c);
      if (name.empty()) return std::nullopt;
      values[g].push_back(query_values(k, c));
      if (name != "id" && std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
    }
  auto snap = store.column_cache().columns(store, kind, names, cancel);
  const std::vector<int64_t>& ids = *snap->ids;
  // "id" as a column of its own, made only when a condition names it.
  CachedColumn id_column;
  id_column.type = CachedColumn::Type::Int;
  std::vector<uint8_t> any(ids.size(), filter.empty() ? 1 : 0);  // no group at all: every record
  for (size_t g = 0; g < filter.size(); ++g) {
    std::vector<uint8_t> keep(ids.size(), 1);
    for (size_t i = 0; i < filter[g].size(); ++i) {
      const Condition& c = filter[g][i];
      const CachedColumn* col;
      if (c.field == "id") {
        if (id_column.ints.empty()) id_column.ints = ids;
        col = &id_column;
      } else {
        col = &snap->at(cached_name(k, c));
      }
      if (!Matcher(c, values[g][i], *col).apply(keep)) return std::nullopt;
      if (cancel && cancel->requested()) throw Interrupted();
    }
    for (size_t r = 0; r < ids.size(); ++r) any[r] |= keep[r];
  }
  std::vector<int64_t> out;
  for (size_t r = 0; r < ids.size(); ++r)
    if (any[r]) out.push_back(ids[r]);
  return out;
}

}  // namespace crmcore::records
