#pragma once
// A store's catalog: the kind table as this file has it, with the allowed
// values and labels it added and the custom fields it declared. Private to
// the store; the write path reads it once per write (see Catalog::refresh).
#include <string>
#include <vector>

#include "crmcore/records/schema.hpp"
#include "crmcore/records/store.hpp"

namespace crmcore::records {

class Catalog {
 public:
  // Brings the kinds up to date with the file. The catalog's tables are read
  // again only when the file's catalog stamp differs from the one last read
  // (another handle or process changed them, or a transaction that changed
  // them was rolled back): a write pays one lookup of the stamp.
  void refresh(Store::Impl& impl);
  // Forgets what was read: the next refresh reads the tables again.
  void invalidate() { loaded_ = false; }
  // The kind `name` (of the kind table) as the file has it; refresh first.
  const Kind& kind(const std::string& name) const;

 private:
  void load(Store::Impl& impl);

  std::vector<Kind> kinds_;
  std::string stamp_;
  bool loaded_ = false;
};

// Schema version 5: the catalog's tables with their first labels, and the
// unique rules of the kind table (a customer and a contact linked once, a
// contact primary at one customer at most), with the rows of older files
// that break them settled first (see the definition).
std::string migration_v5();
// The labels every store starts with, as the rows of one VALUES list.
std::string seed_label_values();

}  // namespace crmcore::records
