// Binding of the backend boundary's bulk load, for tests and benchmarks of
// the PostgreSQL backend from Python: converts columns, nothing more.
#include "common.hpp"
#include <algorithm>
#include <cmath>

#include "crmcore/backend/backend.hpp"

namespace crmcore::bindings {

namespace {

// One column of the load, owned here while the load runs.
struct OwnedColumn {
  backend::ColumnType type = backend::ColumnType::Int64;
  std::vector<int64_t> ints;
  std::vector<double> reals;
  std::vector<std::string> texts;
  std::vector<uint8_t> nulls;
  size_t size() const { return std::max({ints.size(), reals.size(), texts.size()}); }
  backend::ColumnView view() const {
    const std::vector<uint8_t>* n = nulls.empty() ? nullptr : &nulls;
    if (type == backend::ColumnType::Int64) return backend::ColumnView::of(ints, n);
    if (type == backend::ColumnType::Double) return backend::ColumnView::of(reals, n);
    return backend::ColumnView::of(texts, n);
  }
};

// int64 and float64 arrays keep their type; anything else is a sequence of
// str or None (NaN, too, as pandas writes a missing string).
OwnedColumn convert(const py::handle& values, const std::string& name) {
  OwnedColumn out;
  if (py::isinstance<py::array>(values)) {
    auto arr = py::reinterpret_borrow<py::array>(values);
    if (arr.dtype().kind() == 'i') {
      out.type = backend::ColumnType::Int64;
      auto a = arr.cast<py::array_t<int64_t, py::array::c_style | py::array::forcecast>>();
      out.ints.assign(a.data(), a.data() + a.size());
      return out;
    }
    if (arr.dtype().kind() == 'f') {
      out.type = backend::ColumnType::Double;
      auto a = arr.cast<py::array_t<double, py::array::c_style | py::array::forcecast>>();
      out.reals.assign(a.data(), a.data() + a.size());
      return out;
    }
  }
  out.type = backend::ColumnType::Text;
  for (const py::handle& v : values) {
    // pandas marks a missing string with None or NaN (its str dtype).
    bool missing = v.is_none() || (PyFloat_Check(v.ptr()) && std::isnan(PyFloat_AsDouble(v.ptr())));
    if (missing) {
      out.texts.emplace_back();
      out.nulls.resize(out.texts.size(), 0);
      out.nulls.back() = 1;
      continue;
    }
    if (!py::isinstance<py::str>(v))
      throw ValidationError("column", static_cast<int64_t>(out.texts.size()), name, "expected str or None");
    out.texts.push_back(v.cast<std::string>());
  }
  if (!out.nulls.empty()) out.nulls.resize(out.texts.size(), 0);
  return out;
}

}  // namespace

void bind_backend(py::module_& m) {
  m.def("have_postgres", &backend::have_postgres, "Whether this build has the PostgreSQL backend (libpq).");
  m.def(
      "pg_bulk_load",
      [](const std::string& dsn, const std::string& table, const std::vector<std::string>& names,
         const py::list& values) {
        if (names.size() != values.size()) throw std::invalid_argument("one name per column");
        std::vector<OwnedColumn> cols;
        for (size_t i = 0; i < names.size(); ++i) cols.push_back(convert(values[i], names[i]));
        size_t rows = cols.empty() ? 0 : cols[0].size();
        for (const auto& c : cols)
          if (c.size() != rows) throw std::invalid_argument("the columns must have the same length");
        py::gil_scoped_release release;
        auto conn = backend::open_postgres(dsn);
        std::vector<backend::ColumnType> types;
        std::vector<backend::ColumnView> views;
        for (const auto& c : cols) {
          types.push_back(c.type);
          views.push_back(c.view());
        }
        auto loader = conn->bulk_loader(table, names, types);
        loader->append(views, rows);
        return loader->finish();
      },
      py::arg("dsn"), py::arg("table"), py::arg("names"), py::arg("values"),
      "Loads columns into an existing table by binary COPY (the PostgreSQL backend's bulk path);\n"
      "int64 / float64 arrays, or sequences of str or None (or NaN). Returns the number of rows.\n"
      "For tests and benchmarks of the backend; the store will use it itself.");
}

}  // namespace crmcore::bindings
