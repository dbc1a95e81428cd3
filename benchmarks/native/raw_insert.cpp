#include "crmcore/records/raw_insert.hpp"

#include <sqlite3.h>

#include "crmcore/records/schema.hpp"
#include "sqlite.hpp"

namespace crmcore::records {

size_t raw_insert(const std::string& path, const std::string& kind_name, const Table& table, int64_t first_id) {
  const Kind& k = kind(kind_name);
  sqlite3* db = nullptr;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) sql::fail(db, "cannot open " + path);
  size_t rows = 0;
  try {
    // The same settings as the store, so that only the work per row differs.
    sql::configure_connection(db);
    std::string cols = "id, created_at, updated_at", params = "?, 0, 0";
    for (const auto& c : table.columns) cols += ", " + c.name, params += ", ?";
    sql::exec(db, "BEGIN IMMEDIATE");
    {
      sql::Statement st(db, "INSERT INTO " + k.name + "(" + cols + ") VALUES(" + params + ")");
      rows = table.rows();
      for (size_t r = 0; r < rows; ++r) {
        st.bind(1, first_id + static_cast<int64_t>(r));
        for (size_t c = 0; c < table.columns.size(); ++c) {
          const Column& col = table.columns[c];
          const int i = static_cast<int>(c) + 2;
          if (!col.present(r)) st.bind_null(i);
          else if (col.storage == Column::Storage::Int) st.bind(i, col.ints[r]);
          else if (col.storage == Column::Storage::Real) st.bind(i, col.reals[r]);
          else st.bind(i, col.texts[r]);
        }
        st.run();
      }
    }
    sql::exec(db, "COMMIT");
  } catch (...) {
    sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
    sqlite3_close(db);
    throw;
  }
  sqlite3_close(db);
  return rows;
}

}  // namespace crmcore::records
