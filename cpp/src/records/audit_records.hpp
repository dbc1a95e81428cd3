#pragma once
// The records against the audit log (audit.cpp's Store::audit_check calls it).
#include <sqlite3.h>

#include <vector>

#include "crmcore/records/store.hpp"
#include "sqlite.hpp"

namespace crmcore::records {

// Adds a problem for each record whose stored values are not those the audit
// log says crmcore last wrote: a field whose value differs from the newest
// update's new value (named by that entry's seq), and a record the log says
// was deleted that is there again. What the log cannot speak for is not
// checked: values an insert wrote and no update changed since (an insert's
// entry names its ids, not its values), and whatever came before an erasure
// (which rewrites records without per-field entries).
void check_records_against_log(const sql::Db& db, std::vector<AuditProblem>& problems);

}  // namespace crmcore::records
