// A record's phone and e-mail lookup rows, found from its fields (see
// contact_points.hpp).
#include "contact_points.hpp"

#include "crmcore/records/normalize.hpp"
#include "values.hpp"

namespace crmcore::records {

std::vector<std::string> stored_lookup_values(const Field& f, const std::string& text) {
  std::vector<std::string> out;
  for (const auto& part : split_values(text)) {
    try {
      for (auto& value : lookup_values(f, part)) out.push_back(std::move(value));
    } catch (const RowFailure&) {  // never written as a lookup row
    }
  }
  return out;
}

void forget_lookup_rows(Store::Impl& impl, const Kind& k, int64_t id, const std::vector<const Field*>& fields) {
  std::string columns;
  std::vector<const Field*> looked_up;
  for (const Field* f : fields)
    if (f && f->lookup != Lookup::None) {
      columns += (columns.empty() ? "" : ", ") + f->name;
      looked_up.push_back(f);
    }
  if (looked_up.empty()) return;
  sql::Statement& read = impl.prepared("SELECT " + columns + " FROM " + k.name + " WHERE id = ?1");
  read.bind(1, id);
  std::vector<std::pair<const Field*, std::string>> values;
  if (read.step())
    for (size_t i = 0; i < looked_up.size(); ++i)
      if (!read.is_null(static_cast<int>(i)))
        for (auto& value : stored_lookup_values(*looked_up[i], read.text(static_cast<int>(i))))
          values.emplace_back(looked_up[i], std::move(value));
  read.reset();
  sql::Statement& remove =
      impl.prepared("DELETE FROM contact_points WHERE value = ?1 AND record_id = ?2 AND field = ?3");
  for (const auto& [f, value] : values) {
    remove.bind(1, value).bind(2, id).bind(3, f->name);
    remove.run();
  }
}

void forget_lookup_rows(Store::Impl& impl, const Kind& k, int64_t id) {
  std::vector<const Field*> fields;
  for (const auto& f : k.fields) fields.push_back(&f);
  forget_lookup_rows(impl, k, id, fields);
}

void forget_all_lookups(Store::Impl& impl, const Kind& k, int64_t id) {
  forget_lookup_rows(impl, k, id);
  sql::Statement& tags = impl.prepared("DELETE FROM record_tags WHERE record_id = ?1");
  tags.bind(1, id);
  tags.run();
}

void rebuild_lookup_rows(Store::Impl& impl) {
  sql::exec(impl.db, "DELETE FROM contact_points");
  for (const auto& k : kinds()) {
    std::string columns;
    std::vector<const Field*> looked_up;
    for (const auto& f : k.fields)
      if (f.lookup != Lookup::None) columns += ", " + f.name, looked_up.push_back(&f);
    if (looked_up.empty()) continue;
    sql::Statement read(impl.db, "SELECT id" + columns + " FROM " + k.name);
    sql::Statement insert(impl.db, "INSERT OR IGNORE INTO contact_points(value, record_id, kind, field) VALUES(?, ?, ?, ?)");
    while (read.step())
      for (size_t i = 0; i < looked_up.size(); ++i) {
        const int c = static_cast<int>(i) + 1;
        if (read.is_null(c)) continue;
        for (const auto& value : stored_lookup_values(*looked_up[i], read.text(c))) {
          insert.bind(1, value).bind(2, read.int64(0)).bind(3, k.name).bind(4, looked_up[i]->name);
          insert.run();
        }
      }
  }
}

}  // namespace crmcore::records
