// Binding of the record store: columns in as NumPy arrays, columns out as
// NumPy arrays; the GIL is released while the store works.
#include "common.hpp"
#include "crmcore/records/json_io.hpp"
#include "crmcore/records/normalize.hpp"
#include "crmcore/records/raw_insert.hpp"
#include "crmcore/records/schema.hpp"
#include "crmcore/records/store.hpp"
#include "crmcore/version.hpp"

namespace crmcore::bindings {

namespace {

using records::Column;
using records::Table;

// (name, values, valid-or-None) triples -> Table. Numbers are copied in one
// block; object arrays become UTF-8 strings (str() of anything else).
Table to_table(const py::list& columns) {
  Table t;
  for (const auto& item : columns) {
    auto triple = item.cast<py::tuple>();
    Column c;
    c.name = triple[0].cast<std::string>();
    py::array values = py::array::ensure(triple[1]);
    if (!values) throw std::invalid_argument("column '" + c.name + "' is not an array");
    const char kind = values.dtype().kind();
    if (kind == 'i' || kind == 'u' || kind == 'b' || kind == 'M' || kind == 'm') {
      c.storage = Column::Storage::Int;
      c.ints = to_vector<int64_t>(kind == 'M' || kind == 'm' ? values.attr("view")("int64") : values);
    } else if (kind == 'f') {
      c.storage = Column::Storage::Real;
      c.reals = to_vector<double>(values);
    } else {
      c.storage = Column::Storage::Text;
      auto objects = values.attr("astype")("object").cast<py::array>();
      const auto n = static_cast<size_t>(objects.size());
      c.texts.resize(n);
      auto* data = static_cast<PyObject**>(objects.mutable_data());
      for (size_t i = 0; i < n; ++i) {
        PyObject* o = data[i];
        if (PyUnicode_Check(o)) {
          Py_ssize_t size = 0;
          const char* utf8 = PyUnicode_AsUTF8AndSize(o, &size);
          if (!utf8) throw py::error_already_set();
          c.texts[i].assign(utf8, static_cast<size_t>(size));
        } else if (o != Py_None) {
          c.texts[i] = py::str(py::handle(o)).cast<std::string>();
        }
      }
    }
    if (!triple[2].is_none()) c.valid = to_vector<uint8_t>(triple[2]);
    if (!c.valid.empty() && c.valid.size() != c.size())
      throw std::invalid_argument("column '" + c.name + "': mask and values differ in length");
    t.columns.push_back(std::move(c));
  }
  return t;
}

// Table -> list of (name, values, valid) with NumPy arrays; text as object arrays.
py::list from_table(Table&& t) {
  py::list out;
  for (auto& c : t.columns) {
    py::object values;
    switch (c.storage) {
      case Column::Storage::Int: values = to_numpy(std::move(c.ints)); break;
      case Column::Storage::Real: values = to_numpy(std::move(c.reals)); break;
      case Column::Storage::Text: {
        py::array objects(py::dtype("O"), std::vector<py::ssize_t>{static_cast<py::ssize_t>(c.texts.size())});
        auto* data = static_cast<PyObject**>(objects.mutable_data());
        for (size_t i = 0; i < c.texts.size(); ++i) {
          PyObject* s = c.present(i) ? PyUnicode_DecodeUTF8(c.texts[i].data(), static_cast<Py_ssize_t>(c.texts[i].size()), "replace")
                                     : (Py_INCREF(Py_None), Py_None);
          if (!s) throw py::error_already_set();
          Py_XDECREF(data[i]);
          data[i] = s;
        }
        values = objects;
        break;
      }
    }
    py::object valid = c.valid.empty() ? py::object(py::none()) : py::object(to_numpy(std::move(c.valid)));
    out.append(py::make_tuple(c.name, values, valid));
  }
  return out;
}

py::list describe_kinds() {
  py::list out;
  for (const auto& k : records::kinds()) {
    py::list fields;
    for (const auto& f : k.fields) {
      py::dict d;
      d["name"] = f.name;
      d["type"] = records::to_string(f.type);
      d["required"] = f.required;
      d["ref_kind"] = f.ref_kind;
      d["choices"] = f.choices;
      d["lookup"] = f.lookup == records::Lookup::Phone ? "phone" : f.lookup == records::Lookup::Email ? "email" : "";
      d["unique"] = f.unique;
      fields.append(d);
    }
    py::dict kd;
    kd["name"] = k.name;
    kd["fields"] = fields;
    out.append(kd);
  }
  return out;
}

// Called every 64K rows of an import: draws the progress bar, if any, and
// lets Ctrl-C stop the import (which then rolls back whole).
records::Progress progress_reporter(py::object progress) {
  return [progress](size_t done, size_t total) {
    py::gil_scoped_acquire gil;
    if (!progress.is_none()) progress(done, total);
    if (PyErr_CheckSignals() != 0) {
      PyErr_Clear();
      throw crmcore::Interrupted();
    }
  };
}

// (ids, [(row, field, reason), ...]) of an import.
py::tuple write_result(records::WriteResult result) {
  py::list errors;
  for (const auto& e : result.errors) errors.append(py::make_tuple(e.row, e.field, e.reason));
  return py::make_tuple(to_numpy(std::move(result.ids)), errors);
}

records::OnError parse_on_error(const std::string& s) {
  if (s == "raise") return records::OnError::Raise;
  if (s == "skip") return records::OnError::Skip;
  throw std::invalid_argument("on_error must be 'raise' or 'skip', not '" + s + "'");
}

}  // namespace

void bind_records(py::module_& m) {
  m.attr("__version__") = crmcore::version();
  m.def("kinds", &describe_kinds, "The record kinds and their fields.");
  m.def("normalize_phone", [](const std::string& s) { return records::normalize_phone(s); });
  m.def("normalize_email", [](const std::string& s) { return records::normalize_email(s); });

  m.def(
      "_raw_insert",
      [](const std::string& path, const std::string& kind, const py::list& columns, int64_t first_id) {
        Table t = to_table(columns);
        py::gil_scoped_release release;
        return records::raw_insert(path, kind, t, first_id);
      },
      "Benchmark yardstick: a bare prepared-statement insert loop (no validation).", py::arg("path"),
      py::arg("kind"), py::arg("columns"), py::arg("first_id"));

  py::class_<records::Store>(m, "Store")
      .def(py::init([](const std::string& path) {
             py::gil_scoped_release release;
             return std::make_unique<records::Store>(path);
           }),
           py::arg("path"))
      .def_property_readonly("path", &records::Store::path)
      .def(
          "insert",
          [](records::Store& s, const std::string& kind, const py::list& columns, const std::string& on_error,
             py::object progress) {
            Table t = to_table(columns);
            records::Progress report = progress_reporter(progress);
            records::WriteResult result;
            {
              py::gil_scoped_release release;
              result = s.insert(kind, t, parse_on_error(on_error), report);
            }
            return write_result(std::move(result));
          },
          py::arg("kind"), py::arg("columns"), py::arg("on_error") = "raise", py::arg("progress") = py::none())
      .def(
          "import_json",
          [](records::Store& s, const std::string& kind, const std::string& path, const std::string& on_error,
             py::object progress) {
            records::Progress report = progress_reporter(progress);
            records::WriteResult result;
            {
              py::gil_scoped_release release;
              result = records::import_json(s, kind, path, parse_on_error(on_error), report);
            }
            return write_result(std::move(result));
          },
          py::arg("kind"), py::arg("path"), py::arg("on_error") = "raise", py::arg("progress") = py::none())
      .def("export_json", &records::export_json, py::arg("kind"), py::arg("path"),
           py::call_guard<py::gil_scoped_release>())
      .def(
          "update",
          [](records::Store& s, const std::string& kind, int64_t id, const py::list& columns) {
            Table t = to_table(columns);
            py::gil_scoped_release release;
            s.update(kind, id, t);
          },
          py::arg("kind"), py::arg("id"), py::arg("columns"))
      .def("remove", &records::Store::remove, py::arg("kind"), py::arg("id"),
           py::call_guard<py::gil_scoped_release>())
      .def(
          "select",
          [](records::Store& s, const std::string& kind, py::object ids, py::object columns) {
            std::vector<int64_t> wanted;
            if (!ids.is_none()) wanted = to_vector<int64_t>(ids);
            std::vector<std::string> names;
            if (!columns.is_none()) names = columns.cast<std::vector<std::string>>();
            Table t;
            {
              py::gil_scoped_release release;
              t = s.select(kind, ids.is_none() ? nullptr : &wanted, columns.is_none() ? nullptr : &names);
            }
            return from_table(std::move(t));
          },
          py::arg("kind"), py::arg("ids") = py::none(), py::arg("columns") = py::none())
      .def(
          "match",
          [](records::Store& s, const std::string& kind, const std::string& field, const py::list& values) {
            std::vector<std::string> typed;
            typed.reserve(values.size());
            for (const auto& v : values) typed.push_back(py::isinstance<py::str>(v) ? v.cast<std::string>() : "");
            records::Store::Matches m;
            {
              py::gil_scoped_release release;
              m = s.match(kind, field, typed);
            }
            return py::make_tuple(to_numpy(std::move(m.ids)), to_numpy(std::move(m.counts)));
          },
          py::arg("kind"), py::arg("field"), py::arg("values"))
      .def(
          "find",
          [](records::Store& s, const std::string& kind, const std::string& field, const std::string& value) {
            std::vector<int64_t> ids;
            {
              py::gil_scoped_release release;
              ids = s.find(kind, field, value);
            }
            return to_numpy(std::move(ids));
          },
          py::arg("kind"), py::arg("field"), py::arg("value"))
      .def(
          "find_phone",
          [](records::Store& s, const std::string& kind, const std::string& phone) {
            return to_numpy(s.find_phone(kind, phone));
          },
          py::arg("kind"), py::arg("phone"))
      .def("begin", &records::Store::begin)
      .def("commit", &records::Store::commit, py::call_guard<py::gil_scoped_release>())
      .def("rollback", &records::Store::rollback)
      .def("kind_of", &records::Store::kind_of, py::arg("id"))
      .def("count", &records::Store::count, py::arg("kind"))
      .def("schema_version", &records::Store::schema_version)
      .def("integrity_check", &records::Store::integrity_check, py::call_guard<py::gil_scoped_release>())
      .def("audit_log", [](records::Store& s, int64_t limit) { return from_table(s.audit_log(limit)); },
           py::arg("limit") = 100);
}

}  // namespace crmcore::bindings
