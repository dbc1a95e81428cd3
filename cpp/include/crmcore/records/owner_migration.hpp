#pragma once
// Free-text owners (customers.owner, all that stores before schema 13 had)
// matched with staff names, so that the access rules, which read owner_id,
// see who owns what.
#include "crmcore/records/store.hpp"

namespace crmcore::records {

// Sets owner_id of each customer that has only the text owner, when exactly
// one staff member has that name (ignoring ASCII case and surrounding
// spaces), and keeps what could not be matched as owner_migration records
// (customer_id, owner, reason), replacing those of an earlier run. Writes
// through the store's write path (validated, audited); the caller groups
// the writes in a transaction. Returns how many customers got an owner.
int64_t migrate_owners(Store& store);

// On opening a file that a migration to kOwnerMigrationVersion marked, runs
// migrate_owners once, in a transaction that also removes the mark (so a
// crash leaves it to the next open), with the actor "crmcore:migration".
void run_pending_owner_migration(Store& store, Store::Impl& impl);
// The SQL with which the migration marks the file (schema_sql.cpp).
std::string owner_migration_mark();

}  // namespace crmcore::records
