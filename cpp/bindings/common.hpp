#pragma once
// Shared helpers of the binding layer: conversions only, no logic.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstring>
#include <vector>

#include "crmcore/cancel.hpp"
#include "crmcore/records/schema.hpp"

namespace crmcore::bindings {

namespace py = pybind11;

void bind_errors(py::module_& m);
void bind_records(py::module_& m);
void bind_graph(py::module_& m);
void bind_scoring(py::module_& m);
void bind_clv(py::module_& m);
// After bind_records: the schema methods of Store (schema.cpp).
void bind_schema(py::module_& m);

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

// Copy a NumPy array (any numeric dtype, cast as needed) into a std::vector.
template <typename T>
std::vector<T> to_vector(const py::handle& obj) {
  auto arr = py::array_t<T, py::array::c_style | py::array::forcecast>::ensure(obj);
  if (!arr) throw py::type_error("expected a numeric array");
  std::vector<T> out(static_cast<size_t>(arr.size()));
  if (!out.empty()) std::memcpy(out.data(), arr.data(), out.size() * sizeof(T));
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
