// graph_from_table: the edges of a database table into a Graph, through the
// backend boundary (a cursor in chunks on PostgreSQL, so libpq never holds the
// whole result; one statement on SQLite).
#include "crmcore/records/edge_table.hpp"

#include <memory>
#include <stdexcept>
#include <unordered_map>

#include "crmcore/backend/backend.hpp"
#include "crmcore/errors.hpp"
#include "store_impl.hpp"

namespace crmcore::records {

namespace {

constexpr const char* kWhat = "graph_from_table";
constexpr int kChunkRows = 65536;
constexpr size_t kMaxTypes = 256;

std::string checked(const std::string& name, const char* field) {
  try {
    backend::check_identifier(name);
  } catch (const std::invalid_argument& e) {
    throw ValidationError(kWhat, -1, field, e.what());
  }
  return name;
}

// "edges" or "schema.edges", each part a plain identifier.
std::string table_name(const std::string& table, const std::string& schema) {
  const size_t dot = table.find('.');
  if (dot != std::string::npos)
    return checked(table.substr(0, dot), "table") + "." + checked(table.substr(dot + 1), "table");
  return schema.empty() ? checked(table, "table") : checked(schema, "schema") + "." + checked(table, "table");
}

// The column list of the SELECT. On SQLite each value's storage class comes
// along, because SQLite hands the text 'abc' to an integer read as 0: an id
// that is not an integer must be refused, not become node 0.
std::string select_list(const EdgeColumns& c, bool sqlite) {
  std::vector<std::string> cols = {checked(c.src, "src"), checked(c.dst, "dst")};
  if (!c.weight.empty()) cols.push_back(checked(c.weight, "weight"));
  if (!c.type.empty()) cols.push_back(checked(c.type, "type"));
  std::string out;
  for (const auto& name : cols) out += (out.empty() ? "" : ", ") + name;
  if (sqlite)
    for (const auto& name : cols) out += ", typeof(" + name + ")";
  return out;
}

struct Reader {
  const EdgeColumns& columns;
  bool sqlite;
  std::vector<int64_t> src, dst;
  std::vector<double> weight;
  std::vector<uint8_t> type;
  std::vector<std::string> type_names;
  std::unordered_map<std::string, uint8_t> type_codes;

  int ncols() const { return 2 + !columns.weight.empty() + !columns.type.empty(); }

  void need_class(const backend::Statement& st, int col, const char* expected1, const char* expected2,
                  const std::string& name, int64_t row) const {
    if (!sqlite) return;
    const std::string cls = st.text(ncols() + col);
    if (cls == expected1 || (expected2 && cls == expected2)) return;
    throw ValidationError(kWhat, row, name, "holds " + cls + ", not " + (expected2 ? "a number" : "an integer id"));
  }

  int64_t id(const backend::Statement& st, int col, const std::string& name, int64_t row) const {
    if (st.is_null(col)) throw ValidationError(kWhat, row, name, "is NULL; every edge needs both ends");
    need_class(st, col, "integer", nullptr, name, row);
    try {
      return st.int64(col);
    } catch (const std::invalid_argument& e) {
      throw ValidationError(kWhat, row, name, std::string(e.what()) + ", not an integer id");
    }
  }

  void take(const backend::Statement& st) {
    const int64_t row = static_cast<int64_t>(src.size());
    src.push_back(id(st, 0, columns.src, row));
    dst.push_back(id(st, 1, columns.dst, row));
    int col = 2;
    if (!columns.weight.empty()) {
      if (st.is_null(col)) throw ValidationError(kWhat, row, columns.weight, "is NULL; give every edge a weight");
      need_class(st, col, "integer", "real", columns.weight, row);
      try {
        weight.push_back(st.real(col));
      } catch (const std::invalid_argument& e) {
        throw ValidationError(kWhat, row, columns.weight, e.what());
      }
      ++col;
    }
    if (!columns.type.empty()) {
      if (st.is_null(col)) throw ValidationError(kWhat, row, columns.type, "is NULL; give every edge a type");
      const std::string t = st.text(col);
      auto found = type_codes.find(t);
      if (found == type_codes.end()) {
        if (type_names.size() == kMaxTypes)
          throw ValidationError(kWhat, row, columns.type, "at most 256 distinct edge types are supported");
        found = type_codes.emplace(t, static_cast<uint8_t>(type_names.size())).first;
        type_names.push_back(t);
      }
      type.push_back(found->second);
    }
  }
};

}  // namespace

EdgeTableGraph graph_from_table(const std::string& where, const std::string& table, const EdgeColumns& columns,
                                bool directed, Cancel& cancel) {
  std::unique_ptr<backend::Connection> conn;
  std::string schema;
  const bool sqlite = !is_postgres_url(where);
  if (sqlite) {
    if (where.empty() || where == ":memory:")
      throw ValidationError(kWhat, -1, "where", "give a SQLite file or a postgresql:// URL (an in-memory database has no tables)");
    conn = backend::open_sqlite(where, /*readonly=*/true);  // reading edges must not make or change a file
  } else {
    std::string url = where;
    schema = take_parameter(url, "schema");
    conn = backend::open_postgres(url);
  }
  conn->set_cancel(&cancel);
  Reader reader{columns, sqlite, {}, {}, {}, {}, {}, {}};
  const std::string select = "SELECT " + select_list(columns, sqlite) + " FROM " + table_name(table, schema);
  if (sqlite) {
    auto st = conn->prepare(select);
    while (st->step()) {
      reader.take(*st);
      cancel.tick();
    }
  } else {
    // A cursor lives in a transaction; nothing is written, so it ends in a rollback.
    conn->begin();
    conn->exec("DECLARE crm_edges NO SCROLL CURSOR FOR " + select);
    auto fetch = conn->prepare("FETCH " + std::to_string(kChunkRows) + " FROM crm_edges");
    for (;;) {
      size_t got = 0;
      while (fetch->step()) {
        reader.take(*fetch);
        ++got;
      }
      fetch->reset();
      cancel.tick(got);
      if (got == 0) break;
    }
    conn->rollback();
  }
  conn->set_cancel(nullptr);
  conn.reset();  // the connection's memory goes before the graph is built
  const size_t m = reader.src.size();
  EdgeTableGraph out{graph::Graph::from_edges(reader.src.data(), reader.dst.data(), m,
                                              columns.weight.empty() ? nullptr : reader.weight.data(),
                                              columns.type.empty() ? nullptr : reader.type.data(), directed,
                                              nullptr, 0, cancel),
                     std::move(reader.type_names)};
  return out;
}

}  // namespace crmcore::records
