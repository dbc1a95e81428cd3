#pragma once
// Putting a backup back. (Taking one is Store::backup.)
#include <string>

#include "crmcore/records/store.hpp"

namespace crmcore::records {

// Replaces the store at `dest` (or creates it) with the store in `backup`,
// after checking that `backup` is a whole crmcore store. The replacement is
// one transaction on `dest`: a restore that fails or is stopped leaves
// `dest` as it was, and connections that have `dest` open see the restored
// records once it commits. `progress` as for Store::backup.
void restore(const std::string& backup, const std::string& dest, const Progress& progress = {},
             int pages_per_step = 1024);

}  // namespace crmcore::records
