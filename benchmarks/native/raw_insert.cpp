// The yardstick of bench_import.py: a plain prepared-statement insert loop
// into a kind's table, with no validation, lookups, tags or audit, which the
// store's import is measured against. It writes around every rule of the
// store, so it is a module of its own, built only for the benchmarks
// (CRMCORE_BUILD_BENCH_MODULE) and never installed with crmcore.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <sqlite3.h>

#include <algorithm>
#include <string>
#include <vector>

#include "crmcore/records/schema.hpp"
#include "sqlite.hpp"

namespace py = pybind11;
namespace records = crmcore::records;
namespace sql = crmcore::records::sql;

namespace {

struct Values {
  enum class Type { Int, Real, Text } type;
  std::vector<int64_t> ints;
  std::vector<double> reals;
  std::vector<std::string> texts;
};

// Inserts the columns (name -> NumPy array, named like the kind's fields) into
// the kind's table of the store at `path`, in one transaction, with ids from
// `first_id` on. Returns the number of rows.
size_t raw_insert(const std::string& path, const std::string& kind_name, const py::list& columns, int64_t first_id) {
  const records::Kind& k = records::kind(kind_name);  // throws for an unknown kind
  std::vector<std::string> names;
  std::vector<Values> values;
  for (const auto& item : columns) {
    auto spec = item.cast<py::tuple>();
    names.push_back(spec[0].cast<std::string>());
    // Column names become SQL text below, so only the kind's own fields pass.
    if (!k.field(names.back())) throw py::value_error("'" + names.back() + "' is not a field of " + k.name);
    py::array a = py::array::ensure(spec[1]);
    const char dtype = a.dtype().kind();
    Values v;
    // Numbers are copied in one block, as crmcore's binding copies them.
    if (dtype == 'i' || dtype == 'u') {
      v.type = Values::Type::Int;
      auto ints = py::array_t<int64_t, py::array::c_style | py::array::forcecast>::ensure(a);
      v.ints.assign(ints.data(), ints.data() + ints.size());
    } else if (dtype == 'f') {
      v.type = Values::Type::Real;
      auto reals = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(a);
      v.reals.assign(reals.data(), reals.data() + reals.size());
    } else {
      v.type = Values::Type::Text;
      v.texts = py::cast<std::vector<std::string>>(a.attr("astype")("str").attr("tolist")());
    }
    values.push_back(std::move(v));
  }
  const size_t rows = values.empty() ? 0 : std::max({values[0].ints.size(), values[0].reals.size(), values[0].texts.size()});
  py::gil_scoped_release release;
  sqlite3* db = nullptr;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) sql::fail(db, "cannot open " + path);
  try {
    // The same settings as the store, so that only the work per row differs.
    sql::configure_connection(db);
    std::string cols = "id, created_at, updated_at", params = "?, 0, 0";
    for (const auto& name : names) cols += ", " + name, params += ", ?";
    sql::exec(db, "BEGIN IMMEDIATE");
    {
      sql::Statement st(db, "INSERT INTO " + k.name + "(" + cols + ") VALUES(" + params + ")");
      for (size_t r = 0; r < rows; ++r) {
        st.bind(1, first_id + static_cast<int64_t>(r));
        for (size_t c = 0; c < values.size(); ++c) {
          const int i = static_cast<int>(c) + 2;
          switch (values[c].type) {
            case Values::Type::Int: st.bind(i, values[c].ints[r]); break;
            case Values::Type::Real: st.bind(i, values[c].reals[r]); break;
            case Values::Type::Text: st.bind(i, values[c].texts[r]); break;
          }
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

}  // namespace

PYBIND11_MODULE(crmcore_bench_native, m) {
  m.doc() = "Benchmark yardsticks that bypass crmcore's rules; never installed";
  m.def("raw_insert", &raw_insert, py::arg("path"), py::arg("kind"), py::arg("columns"), py::arg("first_id"));
}
