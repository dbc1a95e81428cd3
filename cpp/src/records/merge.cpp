// Merging duplicate records, and undoing a merge. A merge moves every
// reference to the merged records onto the kept one, unites their values and
// deletes them, inside the write path's transaction; what it changed is kept
// in merge_log as JSON, enough to put every row back as it was.
#include <sqlite3.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>
#include <tuple>

#include "crmcore/errors.hpp"
#include "crmcore/records/normalize.hpp"
#include "contact_points.hpp"
#include "json_text.hpp"
#include "rules.hpp"
#include "store_impl.hpp"

namespace crmcore::records {

namespace {

using Json = nlohmann::ordered_json;

// One stored row, every column, as a JSON object (integers, doubles, text,
// null). SQLite says each value's own type; PostgreSQL's columns have the
// types of the kind's fields (postgres_store.cpp pg_type).
Json read_row(Store::Impl& impl, const Kind& k, int64_t id) {
  const bool sqlite = impl.db.is_sqlite();
  std::vector<std::pair<std::string, FieldType>> columns{{"id", FieldType::Integer}};
  for (const auto& f : k.fields) columns.emplace_back(f.name, f.type);
  for (const char* name : {kTagsColumn, kCustomColumn}) columns.emplace_back(name, FieldType::Text);
  for (const char* name : {kCreatedColumn, kUpdatedColumn}) columns.emplace_back(name, FieldType::Integer);
  sql::Statement& st = impl.prepared("SELECT " + Store::Impl::insert_columns(k) + " FROM " + k.name + " WHERE id = ?");
  st.bind(1, id);
  if (!st.step()) {
    st.reset();
    throw NotFound("no " + k.name + " record with id " + std::to_string(id));
  }
  Json row = Json::object();
  for (size_t i = 0; i < columns.size(); ++i) {
    const int c = static_cast<int>(i);
    const auto& [name, type] = columns[i];
    const int stored = sqlite ? sqlite3_column_type(st.get(), c)
                              : st.is_null(c)                ? SQLITE_NULL
                              : type == FieldType::Text      ? SQLITE_TEXT
                              : type == FieldType::Real      ? SQLITE_FLOAT
                                                             : SQLITE_INTEGER;
    switch (stored) {
      case SQLITE_INTEGER: row[name] = st.int64(c); break;
      case SQLITE_FLOAT: row[name] = st.real(c); break;
      case SQLITE_NULL: row[name] = nullptr; break;
      default: row[name] = st.text(c); break;
    }
  }
  st.reset();
  return row;
}

void bind_json(sql::Statement& st, int index, const Json& v, std::string& text) {
  if (v.is_null()) st.bind_null(index);
  else if (v.is_number_integer()) st.bind(index, v.get<int64_t>());
  else if (v.is_number()) st.bind(index, v.get<double>());
  else st.bind(index, text = v.get<std::string>());
}

// Puts a row read by read_row back, with its id, and its phones, e-mails and tags.
void restore_row(Store::Impl& impl, const Kind& k, const Json& row) {
  std::string cols, params;
  for (const auto& [name, value] : row.items()) {
    cols += (cols.empty() ? "" : ", ") + name;
    params += params.empty() ? "?" : ", ?";
  }
  sql::Statement st(impl.db, "INSERT INTO " + k.name + "(" + cols + ") VALUES(" + params + ")");
  std::vector<std::string> texts(row.size());
  int i = 0;
  for (const auto& [name, value] : row.items()) {
    bind_json(st, i + 1, value, texts[static_cast<size_t>(i)]);
    ++i;
  }
  st.run();
  const int64_t id = row.at("id").get<int64_t>();
  for (const auto& f : k.fields) {
    if (f.lookup == Lookup::None || !row.contains(f.name) || !row[f.name].is_string()) continue;
    for (const auto& value : lookup_values(f, row[f.name].get<std::string>()))
      impl.insert_contact_point.bind(1, value).bind(2, id).bind(3, k.name).bind(4, f.name).run();
  }
  if (row.contains(kTagsColumn) && row[kTagsColumn].is_string())
    for (const auto& tag : split_tags(row[kTagsColumn].get<std::string>())) impl.insert_tag.bind(1, tag).bind(2, id).run();
}

// A one-row table of text and number columns, for the write path's update.
Column one_value(const std::string& name, const Json& v) {
  if (v.is_number_integer()) {
    Column c(name, Column::Storage::Int);
    c.ints = {v.get<int64_t>()};
    return c;
  }
  if (v.is_number()) {
    Column c(name, Column::Storage::Real);
    c.reals = {v.get<double>()};
    return c;
  }
  Column c(name, Column::Storage::Text);
  c.texts = {v.is_string() ? v.get<std::string>() : std::string()};
  if (v.is_null()) c.valid = {0};
  return c;
}

// The kept record's fields as they were, or united with the others', as a
// one-row table for Store::update_row (times as they are stored).
Table fields_table(const Kind& k, const Json& row) {
  Table t;
  for (const auto& f : k.fields) {
    t.columns.push_back(one_value(f.name, row.at(f.name)));
    if (f.type == FieldType::Time) t.columns.back().origin = Column::Origin::Time;
    if (f.type == FieldType::Bool) t.columns.back().origin = Column::Origin::Flag;
  }
  t.columns.push_back(one_value(kTagsColumn, row.at(kTagsColumn)));
  t.columns.push_back(one_value(kCustomColumn, row.at(kCustomColumn)));
  return t;
}

// Why record `id` of `k` is not there for a merge: when a merge in force
// took it (another writer's, committed while this one waited for the write
// lock), which one and into which record, so that the caller sees a
// conflict, not a mystery.
std::string missing_record(Store::Impl& impl, const Kind& k, int64_t id) {
  std::string text = "no " + k.name + " record with id " + std::to_string(id);
  sql::Statement has(impl.db, Dialect(impl.db).table_exists("merge_log"));
  if (!has.step()) return text;
  sql::Statement took(impl.db, "SELECT merge, keep_id FROM merge_log WHERE kind = ?1 AND undone_at IS NULL AND"
                               " ',' || merged_ids || ',' LIKE ?2 ORDER BY merge DESC LIMIT 1");
  const std::string among = "%," + std::to_string(id) + ",%";
  took.bind(1, k.name).bind(2, among);
  if (!took.step()) return text;
  return text + ": merge " + std::to_string(took.int64(0)) + " merged it into record " +
         std::to_string(took.int64(1)) + " (see merges()); nothing of this merge was written";
}

}  // namespace

int64_t Store::merge(const std::string& kind_name, int64_t keep, const std::vector<int64_t>& others,
                     const std::vector<std::pair<std::string, int64_t>>& prefer) {
  WriteRequest req{WriteOp::Merge, &kind(kind_name), nullptr, {keep}};
  req.ids.insert(req.ids.end(), others.begin(), others.end());
  req.prefer = prefer;
  return write(req).ids.at(0);
}

void Store::unmerge(int64_t merge_id) {
  std::string kind_name;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    sql::Statement has(impl_->db, Dialect(impl_->db).table_exists("merge_log"));
    if (has.step()) {
      sql::Statement st(impl_->db, "SELECT kind FROM merge_log WHERE merge = ?");
      st.bind(1, merge_id);
      if (st.step()) kind_name = st.text(0);
    }
  }
  if (kind_name.empty()) throw NotFound("no merge number " + std::to_string(merge_id));
  WriteRequest req{WriteOp::Unmerge, &kind(kind_name), nullptr, {}};
  req.merge_id = merge_id;
  write(req);
}

int64_t Store::merge_records(const WriteRequest& req) {
  Impl& impl = *impl_;
  const Kind& k = *req.kind;
  const int64_t keep = req.ids.front();
  const std::vector<int64_t> others(req.ids.begin() + 1, req.ids.end());
  if (others.empty()) throw ValidationError(k.name, -1, "", "a merge needs at least one record besides the kept one", keep);
  std::set<int64_t> seen = {keep};
  for (int64_t id : others)
    if (!seen.insert(id).second)
      throw ValidationError(k.name, -1, "", "record " + std::to_string(id) + " is named twice in the merge", keep);
  auto read_named = [&](int64_t id) {
    try {
      return read_row(impl, k, id);
    } catch (const NotFound&) {
      throw NotFound(missing_record(impl, k, id));
    }
  };
  const Json kept = read_named(keep);
  Json undo = {{"keep", kept},           {"others", Json::array()}, {"refs", Json::array()},
               {"removed", Json::array()}, {"flags", Json::array()}};
  std::vector<Json> rows;
  for (int64_t id : others) rows.push_back(read_named(id));
  for (const auto& r : rows) undo["others"].push_back(r);

  // A link record that repeats another goes, its row kept for unmerge.
  auto remove_link_record = [&](const Kind& owner, int64_t id) {
    refuse_unruled(impl, owner, WriteOp::Delete, nullptr);  // its rules must see it go
    Json row = read_row(impl, owner, id);
    undo["removed"].push_back({{"kind", owner.name}, {"row", row}});
    forget_all_lookups(impl, owner, id);
    sql::Statement st(impl.db, "DELETE FROM " + owner.name + " WHERE id = ?");
    st.bind(1, id).run();
    audit(WriteRequest{WriteOp::Delete, &owner, nullptr, {id}}, 1, id, id, keep);
  };

  // 1. Every reference to the others moves to the kept record. A record
  // that would then break a unique rule of its kind (see Kind::unique_rules)
  // does not: one that would repeat a pair goes (the kept record's own link
  // stays), one that would hold a flag twice (a second primary contact)
  // moves with the flag unset.
  const Dialect dialect(impl.db);
  std::string among = "(";
  for (size_t i = 0; i < others.size(); ++i) among += (i ? ", " : "") + std::to_string(others[i]);
  among += ")";
  for (const auto& other : kinds()) {
    for (const auto& f : other.fields) {
      const bool refers = (f.type == FieldType::Ref && f.ref_kind == k.name) || f.type == FieldType::AnyRef;
      if (!refers) continue;
      sql::Statement find(impl.db, "SELECT id, " + f.name + " FROM " + other.name + " WHERE " + f.name + " IN " + among);
      std::vector<std::pair<int64_t, int64_t>> moved;
      while (find.step()) moved.emplace_back(find.int64(0), find.int64(1));
      if (!moved.empty()) refuse_unruled(impl, other, WriteOp::Update, nullptr);  // its rules must see them move
      sql::Statement move(impl.db, "UPDATE " + other.name + " SET " + f.name + " = ?1, updated_at = ?2 WHERE id = ?3");
      for (const auto& [id, old] : moved) {
        if (const UniqueRule* rule = rule_broken_by_move(impl, other, id, f.name, keep)) {
          if (rule->when.empty()) {
            remove_link_record(other, id);
            continue;
          }
          sql::Statement unset(impl.db, "UPDATE " + other.name + " SET " + rule->when + " = 0 WHERE id = ?");
          unset.bind(1, id).run();
          undo["flags"].push_back({other.name, rule->when, id});
        }
        move.bind(1, keep).bind(2, now_ns()).bind(3, id).run();
        undo["refs"].push_back({other.name, f.name, id, old});
        audit(WriteRequest{WriteOp::Update, &other, nullptr, {id}}, 1, id, id, old);
      }
    }
  }
  // 2. Link records that now repeat another (the same customer and contact
  // twice), and links that now join the kept record to itself, go.
  for (const auto& other : kinds()) {
    std::vector<std::string> refs;
    for (const auto& f : other.fields)
      if (f.type == FieldType::Ref || f.type == FieldType::AnyRef) refs.push_back(f.name);
    const bool links = other.name == "links";
    if (!other.cascade_on_delete && !links) continue;
    // Only a link kind's rows (every required field a reference: a
    // customer's contacts, a campaign's or a territory's members) form a set
    // in which a repeat means nothing. A history or a list of lines (a deal's
    // stages, an invoice's lines, a pipeline's stages) repeats its references
    // on purpose and keeps every row.
    bool set_of_links = true;
    for (const auto& f : other.fields)
      if (f.required && f.type != FieldType::Ref && f.type != FieldType::AnyRef) set_of_links = false;
    if (!set_of_links && !links) continue;
    // And only the repeats the merge made: rows that now name the kept record.
    std::string names_keep;
    for (const auto& r : refs) names_keep += (names_keep.empty() ? "a." : " OR a.") + r + " = " + std::to_string(keep);
    std::string same = "a.id > b.id AND (" + names_keep + ")";
    for (const auto& r : refs) same += " AND a." + r + dialect.is() + "b." + r;
    if (links) same += " AND a.type = b.type";
    std::string text = "SELECT a.id FROM " + other.name + " a WHERE EXISTS (SELECT 1 FROM " + other.name + " b WHERE " +
                       same + ")";
    if (links) text += " OR a.src = a.dst";
    sql::Statement find(impl.db, text);
    std::vector<int64_t> gone;
    while (find.step()) gone.push_back(find.int64(0));
    for (int64_t id : gone) remove_link_record(other, id);
  }

  // 3. The kept record's values: its own, its empty fields filled from the
  // others in order, phones, e-mails, tags and custom fields united, and
  // the fields `prefer` names taken from the record it names.
  Json united = kept;
  std::vector<const Json*> all = {&kept};
  for (const auto& o : rows) all.push_back(&o);
  for (const auto& f : k.fields) {
    Json& v = united[f.name];
    if (f.name == kExternalSource || f.name == kExternalId) continue;  // the others' keys become aliases
    if (f.lookup == Lookup::None) {
      for (const auto& o : rows)
        if (v.is_null() && !o[f.name].is_null()) v = o[f.name];
      continue;
    }
    std::vector<std::string> parts, normalized;  // each number or address once, as first written
    for (const Json* r : all) {
      if (!(*r)[f.name].is_string()) continue;
      for (const auto& part : split_values((*r)[f.name].get<std::string>())) {
        std::vector<std::string> norm;
        try {
          norm = lookup_values(f, part);
        } catch (const RowFailure&) {
          continue;
        }
        if (norm.empty() || std::find(normalized.begin(), normalized.end(), norm.front()) != normalized.end()) continue;
        normalized.push_back(norm.front());
        parts.push_back(part);
      }
    }
    std::string joined;
    for (const auto& p : parts) joined += (joined.empty() ? "" : "; ") + p;
    v = joined.empty() ? Json(nullptr) : Json(joined);
  }
  std::vector<std::string> tags;
  std::vector<std::pair<std::string, std::string>> custom;  // (key, value's JSON text), keep's first
  for (const Json* r : all) {
    if ((*r)[kTagsColumn].is_string())
      for (auto& t : split_tags((*r)[kTagsColumn].get<std::string>()))
        if (std::find(tags.begin(), tags.end(), t) == tags.end()) tags.push_back(std::move(t));
    if ((*r)[kCustomColumn].is_string())
      for (auto& member : json_text::object_members((*r)[kCustomColumn].get<std::string>()))
        if (std::none_of(custom.begin(), custom.end(), [&member](const auto& m) { return m.first == member.first; }))
          custom.emplace_back(std::move(member));
  }
  united[kTagsColumn] = tags.empty() ? Json(nullptr) : Json(join_tags(tags));
  std::string custom_text;
  for (const auto& [key, value] : custom) {
    custom_text += custom_text.empty() ? "{" : ",";
    json_text::append_string(custom_text, key);
    custom_text += ":" + value;
  }
  united[kCustomColumn] = custom.empty() ? Json(nullptr) : Json(custom_text + "}");
  for (const auto& [field, from] : req.prefer) {
    if (!k.field(field) && field != kTagsColumn && field != kCustomColumn)
      throw ValidationError(k.name, -1, field, "is not a field of " + k.name, keep);
    const Json* source = from == keep ? &kept : nullptr;
    for (size_t i = 0; i < others.size(); ++i)
      if (others[i] == from) source = &rows[i];
    if (!source)
      throw ValidationError(k.name, -1, field, "takes its value from record " + std::to_string(from) +
                                                   ", which is not in the merge", keep);
    united[field] = (*source)[field];
  }
  // A reference of keep's own kind that names a record of the merge (keep's
  // partner was the duplicate, the duplicate's partner was keep) would make
  // keep name itself, or a record that goes: it is cleared (the undo keeps
  // what keep and the others held).
  for (const auto& f : k.fields) {
    const Json& v = united[f.name];
    if (f.type != FieldType::Ref || f.ref_kind != k.name || !v.is_number_integer()) continue;
    const int64_t named = v.get<int64_t>();
    if (named == keep || std::find(others.begin(), others.end(), named) != others.end()) united[f.name] = nullptr;
  }
  Table fields = fields_table(k, united);
  update_row(WriteRequest{WriteOp::Update, &k, &fields, {keep}});

  // 4. The others go (nothing refers to them any more), each audited.
  for (int64_t id : others) delete_record(k, id, false, keep);

  sql::exec(impl.db, dialect.merge_tables());
  std::string merged;
  for (int64_t id : others) merged += (merged.empty() ? "" : ",") + std::to_string(id);
  sql::Statement log(impl.db, "INSERT INTO merge_log(at, kind, keep_id, merged_ids, undo) VALUES(?, ?, ?, ?, ?)"
                              " RETURNING merge");
  const std::string undo_text = undo.dump();
  log.bind(1, now_ns()).bind(2, k.name).bind(3, keep).bind(4, merged).bind(5, undo_text);
  if (!log.step()) throw StorageError("cannot write the merge log");
  const int64_t merge_id = log.int64(0);
  log.reset();
  // (An alias a later merge repeats names that merge's kept record.)
  sql::Statement alias(impl.db, "INSERT INTO key_aliases(kind, source, external_id, record_id, merge)"
                                " VALUES(?, ?, ?, ?, ?) ON CONFLICT (kind, source, external_id) DO UPDATE SET"
                                " record_id = excluded.record_id, merge = excluded.merge");
  for (const auto& row : rows) {
    if (!row[kExternalId].is_string()) continue;
    const std::string source = row[kExternalSource].is_string() ? row[kExternalSource].get<std::string>() : "";
    const std::string id = row[kExternalId].get<std::string>();
    alias.bind(1, k.name).bind(2, source).bind(3, id).bind(4, keep).bind(5, merge_id).run();
  }
  audit(req, static_cast<int64_t>(others.size()), keep, keep);
  return merge_id;
}

void Store::unmerge_records(const WriteRequest& req) {
  Impl& impl = *impl_;
  const Kind& k = *req.kind;
  sql::Statement st(impl.db, "SELECT keep_id, undo, undone_at FROM merge_log WHERE merge = ?");
  st.bind(1, req.merge_id);
  if (!st.step()) throw NotFound("no merge number " + std::to_string(req.merge_id));
  if (!st.is_null(2)) throw ValidationError(k.name, -1, "", "merge " + std::to_string(req.merge_id) + " was undone already");
  const int64_t keep = st.int64(0);
  const Json undo = Json::parse(st.text(1));
  // The merged records come back first, so that references can return to
  // them; one naming another of them (b's partner was c) gets it once both
  // are back.
  std::set<int64_t> merged_ids;
  for (const auto& row : undo.at("others")) merged_ids.insert(row.at("id").get<int64_t>());
  std::vector<std::tuple<int64_t, std::string, int64_t>> among_them;  // (record, field, record it names)
  for (Json row : undo.at("others")) {
    const int64_t id = row.at("id").get<int64_t>();
    for (const auto& f : k.fields) {
      const Json& v = row.value(f.name, Json(nullptr));
      if (f.type != FieldType::Ref || f.ref_kind != k.name || !v.is_number_integer() ||
          !merged_ids.count(v.get<int64_t>()))
        continue;
      among_them.emplace_back(id, f.name, v.get<int64_t>());
      row[f.name] = nullptr;
    }
    restore_row(impl, k, row);
    audit(WriteRequest{WriteOp::Insert, &k, nullptr, {id}}, 1, id, id, keep);
  }
  for (const auto& [id, field, named] : among_them) {
    sql::Statement back(impl.db, "UPDATE " + k.name + " SET " + field + " = ?1 WHERE id = ?2");
    back.bind(1, named).bind(2, id).run();
    audit(WriteRequest{WriteOp::Update, &k, nullptr, {id}}, 1, id, id, keep);
  }
  for (const auto& removed : undo.at("removed")) {
    const Kind& owner = kind(removed.at("kind").get<std::string>());
    refuse_unruled(impl, owner, WriteOp::Insert, nullptr);
    restore_row(impl, owner, removed.at("row"));
    const int64_t id = removed.at("row").at("id").get<int64_t>();
    audit(WriteRequest{WriteOp::Insert, &owner, nullptr, {id}}, 1, id, id, keep);
  }
  // References that still point at the kept record return; any moved since stay.
  for (const auto& ref : undo.at("refs")) {
    const Kind& owner = kind(ref.at(0).get<std::string>());
    const std::string field = ref.at(1).get<std::string>();
    const int64_t id = ref.at(2).get<int64_t>(), old = ref.at(3).get<int64_t>();
    refuse_unruled(impl, owner, WriteOp::Update, nullptr);
    sql::Statement back(impl.db, "UPDATE " + owner.name + " SET " + field + " = ?1, updated_at = ?2 WHERE id = ?3 AND " +
                                     field + " = ?4 RETURNING id");
    back.bind(1, old).bind(2, now_ns()).bind(3, id).bind(4, keep);
    const bool moved_back = back.step();
    back.reset();
    if (moved_back) audit(WriteRequest{WriteOp::Update, &owner, nullptr, {id}}, 1, id, id, keep);
  }
  // Flags a moved record gave up (a second primary contact) return with it.
  for (const auto& flag : undo.value("flags", Json::array())) {
    const Kind& owner = kind(flag.at(0).get<std::string>());
    const std::string field = flag.at(1).get<std::string>();
    const int64_t id = flag.at(2).get<int64_t>();
    sql::Statement back(impl.db, "UPDATE " + owner.name + " SET " + field + " = 1 WHERE id = ? AND " + field + " = 0");
    back.bind(1, id).run();
  }
  // The kept record's fields as they were before the merge.
  Table fields = fields_table(k, undo.at("keep"));
  update_row(WriteRequest{WriteOp::Update, &k, &fields, {keep}});
  sql::Statement aliases(impl.db, "DELETE FROM key_aliases WHERE merge = ?");
  aliases.bind(1, req.merge_id).run();
  sql::Statement done(impl.db, "UPDATE merge_log SET undone_at = ? WHERE merge = ?");
  done.bind(1, now_ns()).bind(2, req.merge_id).run();
  audit(req, static_cast<int64_t>(undo.at("others").size()), keep, keep);
}

Table Store::merges() const {
  std::lock_guard<std::mutex> lock(mutex_);
  Table t;
  for (const char* name : {"merge", "at", "keep_id", "undone_at"}) t.columns.emplace_back(name, Column::Storage::Int);
  for (const char* name : {"kind", "merged_ids"}) t.columns.emplace_back(name, Column::Storage::Text);
  sql::Statement has(impl_->db, Dialect(impl_->db).table_exists("merge_log"));
  if (!has.step()) return t;
  sql::Statement st(impl_->db, "SELECT merge, at, keep_id, undone_at, kind, merged_ids FROM merge_log ORDER BY merge");
  while (st.step()) {
    for (int i = 0; i < 4; ++i) {
      // (PostgreSQL gives a null as no integer at all: undone_at while in force.)
      t.columns[static_cast<size_t>(i)].ints.push_back(st.is_null(i) ? 0 : st.int64(i));
      t.columns[static_cast<size_t>(i)].valid.push_back(st.is_null(i) ? 0 : 1);
    }
    for (int i = 4; i < 6; ++i) t.columns[static_cast<size_t>(i)].texts.push_back(st.text(i));
  }
  return t;
}

}  // namespace crmcore::records
