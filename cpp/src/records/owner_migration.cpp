// Free-text owners matched with staff (see owner_migration.hpp). The match
// is deliberately plain: one staff member with the same name, or a reason
// in the report for a person to settle (no staff member, or several).
#include "crmcore/records/owner_migration.hpp"

#include <map>

#include "store_impl.hpp"

namespace crmcore::records {

namespace {

constexpr const char* kPendingKey = "owners_pending";

std::string name_key(const std::string& text) {
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return "";
  const auto last = text.find_last_not_of(" \t\r\n");
  std::string key = text.substr(first, last - first + 1);
  for (char& ch : key)
    if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
  return key;
}

Column ints(const std::string& name, std::vector<int64_t> values) {
  Column c{name, Column::Storage::Int};
  c.ints = std::move(values);
  return c;
}

Column texts(const std::string& name, std::vector<std::string> values) {
  Column c{name, Column::Storage::Text};
  c.texts = std::move(values);
  return c;
}

}  // namespace

int64_t migrate_owners(Store& store) {
  const std::vector<std::string> staff_columns{"name"}, customer_columns{"owner", "owner_id"},
      report_columns{"customer_id"};
  std::map<std::string, std::vector<int64_t>> staff_named;
  const Table staff = store.select("staff", nullptr, &staff_columns);
  for (size_t r = 0; r < staff.rows(); ++r)
    staff_named[name_key(staff.columns[1].texts[r])].push_back(staff.columns[0].ints[r]);

  std::vector<int64_t> matched, owners, missed;
  std::vector<std::string> missed_text, reasons;
  const Table customers = store.select("customers", nullptr, &customer_columns);
  const Column& owner = customers.columns[1];
  const Column& owner_id = customers.columns[2];
  for (size_t r = 0; r < customers.rows(); ++r) {
    if (owner_id.present(r) || !owner.present(r)) continue;
    const std::string key = name_key(owner.texts[r]);
    if (key.empty()) continue;
    auto found = staff_named.find(key);
    const size_t n = found == staff_named.end() ? 0 : found->second.size();
    if (n == 1) {
      matched.push_back(customers.columns[0].ints[r]);
      owners.push_back(found->second.front());
      continue;
    }
    missed.push_back(customers.columns[0].ints[r]);
    missed_text.push_back(owner.texts[r]);
    reasons.push_back(n == 0 ? "no staff member has that name" : std::to_string(n) + " staff members have that name");
  }

  const Table earlier = store.select("owner_migration", nullptr, &report_columns);
  if (earlier.rows()) store.remove_many("owner_migration", earlier.columns[0].ints, false);
  if (!matched.empty()) {
    Table update;
    update.columns = {ints("id", matched), ints("owner_id", owners)};
    store.upsert("customers", update, {"id"}, /*insert_missing=*/false);
  }
  if (!missed.empty()) {
    Table report;
    report.columns = {ints("customer_id", std::move(missed)), texts("owner", std::move(missed_text)),
                      texts("reason", std::move(reasons))};
    store.insert("owner_migration", report);
  }
  return static_cast<int64_t>(matched.size());
}

void run_pending_owner_migration(Store& store, Store::Impl& impl) {
  {
    sql::Statement pending(impl.db, std::string("SELECT 1 FROM meta WHERE key='") + kPendingKey + "'");
    if (!pending.step()) return;
  }
  const std::string actor = store.actor();
  store.set_actor("crmcore:migration");
  store.begin();
  try {
    migrate_owners(store);
    sql::exec(impl.db, std::string("DELETE FROM meta WHERE key='") + kPendingKey + "'");
    store.commit();
  } catch (...) {
    store.rollback();
    store.set_actor(actor);
    throw;
  }
  store.set_actor(actor);
}

std::string owner_migration_mark() {
  return std::string("INSERT OR REPLACE INTO meta(key, value) VALUES('") + kPendingKey + "', '1');";
}

}  // namespace crmcore::records
