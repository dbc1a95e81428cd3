#pragma once
// Shared helpers of the binding layer: conversions only, no logic.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstring>
#include <initializer_list>
#include <stdexcept>
#include <vector>

#include "crmcore/cancel.hpp"
#include "crmcore/records/query.hpp"
#include "crmcore/records/schema.hpp"

namespace crmcore::bindings {

namespace py = pybind11;

void bind_errors(py::module_& m);
void bind_records(py::module_& m);
// The audit chain, actors, personal data and file hygiene of a Store (audit.cpp).
void bind_audit(py::module_& m);
void bind_graph(py::module_& m);
void bind_scoring(py::module_& m);
void bind_clv(py::module_& m);
void bind_sales(py::module_& m);
void bind_service(py::module_& m);
void bind_marketing(py::module_& m);
void bind_duplicates(py::module_& m);
// After bind_records: Store.run_rule and the membership kernels (automation.cpp).
void bind_automation(py::module_& m);
void bind_stock(py::module_& m);
void bind_backend(py::module_& m);
// After bind_records: the schema methods of Store (schema.cpp).
void bind_schema(py::module_& m);
// After bind_schema: the scoped store (access.cpp), with the store's methods
// bound by records.cpp and schema.cpp.
void bind_access(py::module_& m);
// After bind_records: Store.data_mark and the column cache (column_cache.cpp).
void bind_column_cache(py::module_& m);

// [[(field, op or None, value or None), ...], ...] from crmcore._query.groups
// as the store's filter (records.cpp).
records::AnyOf to_filter(const std::string& kind, const py::list& groups);

// A field of the kind table (or of a store's catalog) as a dict.
py::dict field_dict(const records::Field& f);

// A Cancel for work running with the GIL released: takes the GIL briefly and
// asks Python whether a signal (Ctrl-C) is pending.
inline Cancel python_cancel(uint64_t every = 1u << 16) {
  return Cancel(
      [] {
        py::gil_scoped_acquire gil;
        if (PyErr_CheckSignals() != 0) {
          PyErr_Clear();  // re-raised as KeyboardInterrupt by the translator
          return true;
        }
        return false;
      },
      every);
}

// A NumPy column as the kernels read it: contiguous, cast to T if needed.
template <typename T>
using Column = py::array_t<T, py::array::c_style | py::array::forcecast>;

// The common length of columns that describe the same rows.
inline size_t same_length(std::initializer_list<py::ssize_t> sizes) {
  const py::ssize_t n = *sizes.begin();
  for (py::ssize_t s : sizes)
    if (s != n) throw std::invalid_argument("all columns must have the same length");
  return static_cast<size_t>(n);
}

// Copy a NumPy array (any numeric dtype, cast as needed) into a std::vector.
template <typename T>
std::vector<T> to_vector(const py::handle& obj) {
  auto arr = py::array_t<T, py::array::c_style | py::array::forcecast>::ensure(obj);
  if (!arr) throw py::type_error("expected a numeric array");
  std::vector<T> out(static_cast<size_t>(arr.size()));
  if (!out.empty()) std::memcpy(out.data(), arr.data(), out.size() * sizeof(T));
  return out;
}

// A column of text (a NumPy object array or any sequence) as UTF-8 strings;
// None and NaN are "".
inline std::vector<std::string> to_texts(const py::handle& obj) {
  auto objects = py::array::ensure(obj, py::array::c_style);
  if (!objects) throw py::type_error("expected a column of text");
  if (objects.dtype().kind() != 'O') objects = objects.attr("astype")("object").cast<py::array>();
  const auto n = static_cast<size_t>(objects.size());
  std::vector<std::string> out(n);
  auto* data = static_cast<PyObject* const*>(objects.data());
  for (size_t i = 0; i < n; ++i) {
    PyObject* o = data[i];
    if (PyUnicode_Check(o)) {
      Py_ssize_t size = 0;
      const char* text = PyUnicode_AsUTF8AndSize(o, &size);
      if (!text) throw py::error_already_set();
      out[i].assign(text, static_cast<size_t>(size));
    } else if (o != Py_None && !(PyFloat_Check(o) && PyFloat_AS_DOUBLE(o) != PyFloat_AS_DOUBLE(o))) {
      out[i] = py::str(py::handle(o)).cast<std::string>();
    }
  }
  return out;
}

// Hand a std::vector to NumPy without a copy: the array owns the moved vector.
template <typename T>
py::array_t<T> to_numpy(std::vector<T>&& v) {
  auto* owned = new std::vector<T>(std::move(v));
  py::capsule free_when_done(owned, [](void* p) { delete static_cast<std::vector<T>*>(p); });
  return py::array_t<T>({static_cast<py::ssize_t>(owned->size())}, {sizeof(T)}, owned->data(),
                        free_when_done);
}

}  // namespace crmcore::bindings
