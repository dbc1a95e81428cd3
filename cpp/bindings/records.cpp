// Binding of the record store: columns in as NumPy arrays, columns out as
// NumPy arrays; the GIL is released while the store works.
#include <algorithm>

#include "arrow_text.hpp"
#include "common.hpp"
#include "crmcore/access/access.hpp"
#include "crmcore/errors.hpp"
#include "crmcore/records/backup.hpp"
#include "crmcore/records/json_io.hpp"
#include "crmcore/records/normalize.hpp"
#include "crmcore/records/query.hpp"
#include "crmcore/records/schema.hpp"
#include "crmcore/records/store.hpp"
#include "crmcore/version.hpp"

namespace crmcore::bindings {

namespace {

using records::Column;
using records::Table;

// Why a Python object cannot be one value of a column, or "" when it can
// (then its text is in `text`). Text must be encodable as UTF-8; a list,
// dict, set or bytes is not one value (str() of it was stored before).
std::string object_text(PyObject* o, std::string& text) {
  if (PyUnicode_Check(o)) {
    Py_ssize_t size = 0;
    const char* utf8 = PyUnicode_AsUTF8AndSize(o, &size);
    if (!utf8) {
      PyErr_Clear();
      return "is not valid text: it holds a lone surrogate (a half of a UTF-16 pair)";
    }
    text.assign(utf8, static_cast<size_t>(size));
    return "";
  }
  if (PyBytes_Check(o) || PyByteArray_Check(o) || PyMemoryView_Check(o))
    return "is bytes, not text: decode it first (e.g. value.decode('utf-8'))";
  const std::string type = Py_TYPE(o)->tp_name;
  if (PyDict_Check(o) || PyAnySet_Check(o) || PyList_Check(o) || PyTuple_Check(o) ||
      PyObject_HasAttrString(o, "__iter__"))
    return "is a " + type + ", not a single value";
  PyObject* str = PyObject_Str(o);
  if (!str) {
    PyErr_Clear();
    return "is a " + type + " that cannot be read as text";
  }
  std::string why = object_text(str, text);
  Py_DECREF(str);
  return why;
}

// A list of tags given as a Python list (tuple, set): joined as the store's
// tag list, or the reason it cannot be.
std::string tag_list_text(PyObject* o, std::string& text) {
  py::list items = py::list(py::reinterpret_borrow<py::object>(o));
  std::vector<std::string> tags;
  for (const auto& item : items) {
    PyObject* t = item.ptr();
    if (!PyUnicode_Check(t) && !(PyLong_Check(t) && !PyBool_Check(t)))
      return std::string("tags must be text, not ") + Py_TYPE(t)->tp_name;
    std::string tag;
    std::string why = object_text(t, tag);
    if (!why.empty()) return "a tag " + why;
    if (tag.find(records::kTagSeparator) != std::string::npos) return "a tag holds a control character";
    tags.push_back(std::move(tag));
  }
  text = records::join_tags(tags);
  return "";
}

// A column's mask and the rows the Python side could not convert, from its
// (name, values, valid-or-None[, problems-or-None]).
void add_mask_and_problems(Column& c, const py::tuple& spec) {
  if (!spec[2].is_none()) c.valid = to_vector<uint8_t>(spec[2]);
  if (!c.valid.empty() && c.valid.size() != c.size())
    throw std::invalid_argument("column '" + c.name + "': mask and values differ in length");
  if (spec.size() > 3 && !spec[3].is_none()) {
    for (const auto& [row, why] : spec[3].cast<std::vector<std::pair<size_t, std::string>>>())
      c.problems.emplace_back(row, why);
    std::stable_sort(c.problems.begin(), c.problems.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
  }
}

// The rows of a text column kept by Arrow, given as a list of its chunks,
// each (offsets, data, validity-or-None, first, n, large): their bytes as
// they are. The core checks them as it checks any text (valid UTF-8, no
// NUL), so a row is refused the same way whichever form it came in.
void arrow_texts(Column& c, const py::list& chunks) {
  for (const auto& item : chunks) {
    auto spec = item.cast<py::tuple>();
    if (spec.size() != 6) throw std::invalid_argument("column '" + c.name + "': an Arrow chunk has 6 parts");
    auto append = [&](const auto& chunk) {
      const size_t start = c.texts.size();
      c.texts.resize(start + chunk.size());
      for (size_t i = 0; i < chunk.size(); ++i)
        if (chunk.present(i)) c.texts[start + i] = chunk.text(i);
    };
    const auto what = "column '" + c.name + "'";
    const auto offsets = spec[0].cast<py::array>(), data = spec[1].cast<py::array>();
    const auto first = spec[3].cast<size_t>(), n = spec[4].cast<size_t>();
    if (spec[5].cast<bool>())
      append(ArrowTextChunk<int64_t>(offsets, data, spec[2], first, n, what));
    else
      append(ArrowTextChunk<int32_t>(offsets, data, spec[2], first, n, what));
  }
}

// (name, values, valid-or-None[, problems-or-None]) -> Table. Numbers are
// copied in one block; an object array's values become UTF-8 text, and
// those that cannot (see object_text) become problems of their rows, which
// the store refuses like any bad value; a list of Arrow chunks is text too
// (see arrow_texts). `problems` are the rows the Python side could not
// convert, as (row, reason) pairs.
Table to_table(const py::list& columns) {
  Table t;
  for (const auto& item : columns) {
    auto spec = item.cast<py::tuple>();
    Column c;
    c.name = spec[0].cast<std::string>();
    if (py::isinstance<py::list>(spec[1])) {
      c.storage = Column::Storage::Text;
      arrow_texts(c, spec[1].cast<py::list>());
      add_mask_and_problems(c, spec);
      t.columns.push_back(std::move(c));
      continue;
    }
    py::array values = py::array::ensure(spec[1]);
    if (!values) throw std::invalid_argument("column '" + c.name + "' is not an array");
    const char kind = values.dtype().kind();
    if (kind == 'u' && values.dtype().itemsize() == 8 && values.size() > 0 &&
        values.attr("max")().cast<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
      // Past 2**63-1 an unsigned number wraps around as a signed one (2**64-1
      // became -1), and a double rounds it (shown as 9.22337203685478e+18):
      // as its exact digits the field's type reads it, an amount keeping its
      // size and a whole number refused quoting the value as given.
      c.storage = Column::Storage::Text;
      const auto numbers = to_vector<uint64_t>(values);
      c.texts.reserve(numbers.size());
      for (const auto number : numbers) c.texts.push_back(std::to_string(number));
    } else if (kind == 'i' || kind == 'u' || kind == 'b' || kind == 'M' || kind == 'm') {
      c.storage = Column::Storage::Int;
      c.origin = kind == 'b' ? Column::Origin::Flag : kind == 'M' ? Column::Origin::Time : Column::Origin::Number;
      if (kind == 'M') values = values.attr("astype")("datetime64[ns]").cast<py::array>();
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
      const bool tags = c.name == records::kTagsColumn;
      for (size_t i = 0; i < n; ++i) {
        PyObject* o = data[i];
        if (o == Py_None) continue;
        std::string why = tags && (PyList_Check(o) || PyTuple_Check(o) || PyAnySet_Check(o))
                              ? tag_list_text(o, c.texts[i])
                              : object_text(o, c.texts[i]);
        if (!why.empty()) c.problems.emplace_back(i, std::move(why));
      }
    }
    add_mask_and_problems(c, spec);
    t.columns.push_back(std::move(c));
  }
  return t;
}

py::str decode_utf8(const std::string& text) {
  PyObject* s = PyUnicode_DecodeUTF8(text.data(), static_cast<Py_ssize_t>(text.size()), "replace");
  if (!s) throw py::error_already_set();
  return py::reinterpret_steal<py::str>(s);
}

// Table -> list of (name, values, valid) with NumPy arrays; text as object
// arrays, tags as a list of str per row.
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
        const bool tags = c.name == records::kTagsColumn;
        for (size_t i = 0; i < c.texts.size(); ++i) {
          PyObject* s = nullptr;
          if (tags) {  // a list of str for every row, empty for none
            py::list list;
            if (c.present(i))
              for (const auto& tag : records::split_tags(c.texts[i])) list.append(decode_utf8(tag));
            s = list.release().ptr();
          } else {
            s = c.present(i) ? decode_utf8(c.texts[i]).release().ptr() : (Py_INCREF(Py_None), Py_None);
          }
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
    for (const auto& f : k.fields) fields.append(field_dict(f));
    py::dict kd;
    kd["name"] = k.name;
    kd["fields"] = fields;
    kd["since_version"] = k.since_version;
    kd["catalog"] = k.catalog;
    out.append(kd);
  }
  return out;
}

// Called every 64K rows of an import: draws the progress bar, if any, and
// lets Ctrl-C stop the import (which then rolls back whole).
// Runs `read` (a call that takes the store's lock) without the GIL. A thread
// that waited for the lock while holding the GIL would deadlock with a write
// that holds the lock and needs the GIL for its progress and Ctrl-C checks.
template <class Read>
auto unlocked(Read&& read) {
  py::gil_scoped_release release;
  return read();
}

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

// Whether Ctrl-C was pressed while a write that has now committed ran. The
// write cannot be undone, so the interrupt must not look like its failure:
// the caller is told (and raises crm.InterruptedAfterCommit, which says the
// data was saved) instead of a bare KeyboardInterrupt. Inside db.transaction()
// nothing is committed yet, and the interrupt stays an interrupt.
template <class S>
bool interrupted_after_commit(const S& s) {
  if (s.in_transaction() || PyErr_CheckSignals() == 0) return false;
  PyErr_Clear();
  return true;
}

// (ids, [(row, field, reason), ...], interrupted after commit, updated or
// None) of an import.
py::tuple write_result(records::WriteResult result, bool interrupted) {
  py::list errors;
  for (const auto& e : result.errors) errors.append(py::make_tuple(e.row, e.field, decode_utf8(e.reason)));
  py::object updated = result.updated.empty() ? py::object(py::none()) : py::object(to_numpy(std::move(result.updated)));
  return py::make_tuple(to_numpy(std::move(result.ids)), errors, interrupted, updated);
}

// import_json and export_json of a store, or through a scoped one.
records::WriteResult import_json_into(records::Store& s, const std::string& kind, const std::string& path,
                                      records::OnError on_error, const records::Progress& report, bool dry_run) {
  return records::import_json(s, kind, path, on_error, report, dry_run);
}
records::WriteResult import_json_into(access::ScopedStore& s, const std::string& kind, const std::string& path,
                                      records::OnError on_error, const records::Progress& report, bool dry_run) {
  return s.import_json(kind, path, on_error, report, dry_run);
}
size_t export_json_from(const records::Store& s, const std::string& kind, const std::string& path) {
  return records::export_json(s, kind, path);
}
size_t export_json_from(const access::ScopedStore& s, const std::string& kind, const std::string& path) {
  return s.export_json(kind, path);
}

records::OnError parse_on_error(const std::string& s) {
  if (s == "raise") return records::OnError::Raise;
  if (s == "skip") return records::OnError::Skip;
  throw std::invalid_argument("on_error must be 'raise' or 'skip', not '" + s + "'");
}

}  // namespace

// [[(field, op or None, column or None), ...], ...] -> an OR of AND-groups.
// An op of None is the keyword rule of find (keyword_condition).
records::AnyOf to_filter(const std::string& kind, const py::list& groups) {
  records::AnyOf out;
  for (const auto& group : groups) {
    records::AllOf all;
    for (const auto& item : group.cast<py::list>()) {
      auto spec = item.cast<py::tuple>();
      const auto field = spec[0].cast<std::string>();
      records::Column values;
      if (!spec[2].is_none()) {
        py::list one;
        one.append(spec[2]);
        values = std::move(to_table(one).columns.front());
      }
      if (spec[1].is_none()) all.push_back(records::keyword_condition(kind, field, std::move(values)));
      else all.push_back({field, records::parse_op(kind, field, spec[1].cast<std::string>()), std::move(values)});
    }
    out.push_back(std::move(all));
  }
  return out;
}

namespace {

std::vector<records::OrderBy> to_order(const py::list& order_by) {
  std::vector<records::OrderBy> out;
  for (const auto& item : order_by) {
    auto spec = item.cast<py::tuple>();
    out.push_back({spec[0].cast<std::string>(), spec[1].cast<bool>()});
  }
  return out;
}

// The store's methods, bound alike for the store and for a scoped store
// (access::ScopedStore), so that the Python side uses either the same way.
template <class S>
void def_store_api(py::class_<S>& cls) {
  cls.def(
          "insert",
          [](S& s, const std::string& kind, const py::list& columns, const std::string& on_error,
             py::object progress, bool dry_run) {
            Table t = to_table(columns);
            records::Progress report = progress_reporter(progress);
            records::WriteResult result;
            {
              py::gil_scoped_release release;
              result = s.insert(kind, t, parse_on_error(on_error), report, dry_run);
            }
            return write_result(std::move(result), interrupted_after_commit(s));
          },
          py::arg("kind"), py::arg("columns"), py::arg("on_error") = "raise", py::arg("progress") = py::none(),
          py::arg("dry_run") = false)
      .def(
          "upsert",
          [](S& s, const std::string& kind, const py::list& columns, const std::vector<std::string>& key,
             bool insert_missing, const std::string& on_error, py::object progress, bool dry_run) {
            Table t = to_table(columns);
            records::Progress report = progress_reporter(progress);
            records::WriteResult result;
            {
              py::gil_scoped_release release;
              result = s.upsert(kind, t, key, insert_missing, parse_on_error(on_error), report, dry_run);
            }
            return write_result(std::move(result), interrupted_after_commit(s));
          },
          py::arg("kind"), py::arg("columns"), py::arg("key"), py::arg("insert_missing"),
          py::arg("on_error") = "raise", py::arg("progress") = py::none(), py::arg("dry_run") = false)
      .def(
          "remove_many",
          [](S& s, const std::string& kind, const py::handle& ids, bool cascade) {
            std::vector<int64_t> wanted = to_vector<int64_t>(ids);
            {
              py::gil_scoped_release release;
              s.remove_many(kind, wanted, cascade);
            }
            return interrupted_after_commit(s);
          },
          py::arg("kind"), py::arg("ids"), py::arg("cascade"))
      .def(
          "merge",
          [](S& s, const std::string& kind, int64_t keep, const std::vector<int64_t>& others,
             const std::vector<std::pair<std::string, int64_t>>& prefer) {
            int64_t merge_id;
            {
              py::gil_scoped_release release;
              merge_id = s.merge(kind, keep, others, prefer);
            }
            return py::make_tuple(merge_id, interrupted_after_commit(s));
          },
          py::arg("kind"), py::arg("keep"), py::arg("others"), py::arg("prefer"))
      .def(
          "unmerge",
          [](S& s, int64_t merge_id) {
            {
              py::gil_scoped_release release;
              s.unmerge(merge_id);
            }
            return interrupted_after_commit(s);
          },
          py::arg("merge_id"))
      .def("merges", [](S& s) { return from_table(unlocked([&] { return s.merges(); })); })
      .def(
          "import_json",
          [](S& s, const std::string& kind, const std::string& path, const std::string& on_error,
             py::object progress, bool dry_run) {
            records::Progress report = progress_reporter(progress);
            records::WriteResult result;
            {
              py::gil_scoped_release release;
              result = import_json_into(s, kind, path, parse_on_error(on_error), report, dry_run);
            }
            return write_result(std::move(result), interrupted_after_commit(s));
          },
          py::arg("kind"), py::arg("path"), py::arg("on_error") = "raise", py::arg("progress") = py::none(),
          py::arg("dry_run") = false)
      .def(
          "export_json",
          [](const S& s, const std::string& kind, const std::string& path) { return export_json_from(s, kind, path); },
          py::arg("kind"), py::arg("path"), py::call_guard<py::gil_scoped_release>())
      .def(
          "update",
          [](S& s, const std::string& kind, int64_t id, const py::list& columns) {
            Table t = to_table(columns);
            {
              py::gil_scoped_release release;
              s.update(kind, id, t);
            }
            return interrupted_after_commit(s);
          },
          py::arg("kind"), py::arg("id"), py::arg("columns"))
      .def(
          "remove",
          [](S& s, const std::string& kind, int64_t id) {
            {
              py::gil_scoped_release release;
              s.remove(kind, id);
            }
            return interrupted_after_commit(s);
          },
          py::arg("kind"), py::arg("id"))
      .def(
          "select",
          [](S& s, const std::string& kind, py::object ids, py::object columns) {
            std::vector<int64_t> wanted;
            if (!ids.is_none()) wanted = to_vector<int64_t>(ids);
            std::vector<std::string> names;
            if (!columns.is_none()) names = columns.cast<std::vector<std::string>>();
            Table t;
            {
              Cancel cancel = python_cancel();
              py::gil_scoped_release release;
              t = s.select(kind, ids.is_none() ? nullptr : &wanted, columns.is_none() ? nullptr : &names, &cancel);
            }
            return from_table(std::move(t));
          },
          py::arg("kind"), py::arg("ids") = py::none(), py::arg("columns") = py::none())
      .def(
          "match",
          [](S& s, const std::string& kind, const std::string& field, const py::list& values) {
            std::vector<std::string> typed;
            typed.reserve(values.size());
            for (const auto& v : values) {  // what is not text (or not valid text) names no record
              std::string text;
              typed.push_back(py::isinstance<py::str>(v) && object_text(v.ptr(), text).empty() ? text : "");
            }
            records::Store::Matches m;
            {
              Cancel cancel = python_cancel();
              py::gil_scoped_release release;
              m = s.match(kind, field, typed, &cancel);
            }
            return py::make_tuple(to_numpy(std::move(m.ids)), to_numpy(std::move(m.counts)));
          },
          py::arg("kind"), py::arg("field"), py::arg("values"))
      .def(
          "query",
          [](S& s, const std::string& kind, const py::list& groups, const py::list& order_by,
             int64_t limit, int64_t offset) {
            const records::AnyOf filter = to_filter(kind, groups);
            const std::vector<records::OrderBy> order = to_order(order_by);
            std::vector<int64_t> ids;
            {
              Cancel cancel = python_cancel();
              py::gil_scoped_release release;
              ids = s.query(kind, filter, order, limit, offset, &cancel);
            }
            return to_numpy(std::move(ids));
          },
          py::arg("kind"), py::arg("groups"), py::arg("order_by"), py::arg("limit"), py::arg("offset"))
      .def(
          "select_query",
          [](S& s, const std::string& kind, const py::list& groups, const py::list& order_by,
             int64_t limit, int64_t offset, py::object columns) {
            const records::AnyOf filter = to_filter(kind, groups);
            const std::vector<records::OrderBy> order = to_order(order_by);
            std::vector<std::string> names;
            if (!columns.is_none()) names = columns.cast<std::vector<std::string>>();
            Table t;
            {
              Cancel cancel = python_cancel();
              py::gil_scoped_release release;
              t = s.select_query(kind, filter, order, limit, offset, columns.is_none() ? nullptr : &names, &cancel);
            }
            return from_table(std::move(t));
          },
          py::arg("kind"), py::arg("groups"), py::arg("order_by"), py::arg("limit"), py::arg("offset"),
          py::arg("columns") = py::none())
      .def(
          "query_plan",
          [](S& s, const std::string& kind, const py::list& groups, const py::list& order_by,
             int64_t limit, int64_t offset) {
            const records::AnyOf filter = to_filter(kind, groups);
            const std::vector<records::OrderBy> order = to_order(order_by);
            py::gil_scoped_release release;
            return s.query_plan(kind, filter, order, limit, offset);
          },
          py::arg("kind"), py::arg("groups"), py::arg("order_by"), py::arg("limit"), py::arg("offset"))
      .def(
          "create_index", [](S& s, const std::string& kind, const std::string& field) { return s.create_index(kind, field); },
          py::arg("kind"), py::arg("field"), py::call_guard<py::gil_scoped_release>())
      .def(
          "drop_index", [](S& s, const std::string& kind, const std::string& field) { return s.drop_index(kind, field); },
          py::arg("kind"), py::arg("field"), py::call_guard<py::gil_scoped_release>())
      .def(
          "indexes", [](const S& s, const std::string& kind) { return s.indexes(kind); }, py::arg("kind"),
          py::call_guard<py::gil_scoped_release>())
      .def(
          "find_phone",
          [](S& s, const std::string& kind, const std::string& phone) {
            return to_numpy(unlocked([&] { return s.find_phone(kind, phone); }));
          },
          py::arg("kind"), py::arg("phone"))
      .def("begin", [](S& s) { s.begin(); }, py::call_guard<py::gil_scoped_release>())
      .def("commit",
           [](S& s) {
             {
               py::gil_scoped_release release;
               s.commit();
             }
             return interrupted_after_commit(s);
           })
      .def("rollback", [](S& s) { s.rollback(); }, py::call_guard<py::gil_scoped_release>())
      .def("in_transaction", [](const S& s) { return s.in_transaction(); })
      .def(
          "kind_of", [](const S& s, int64_t id) { return s.kind_of(id); }, py::arg("id"),
          py::call_guard<py::gil_scoped_release>())
      .def(
          "count", [](const S& s, const std::string& kind) { return s.count(kind); }, py::arg("kind"),
          py::call_guard<py::gil_scoped_release>())
      .def("schema_version", [](const S& s) { return s.schema_version(); }, py::call_guard<py::gil_scoped_release>())
      .def(
          "integrity_check", [](const S& s) { return s.integrity_check(); }, py::call_guard<py::gil_scoped_release>())
      .def(
          "audit_log",
          [](S& s, int64_t limit, std::optional<std::vector<int64_t>> about) {
            return from_table(unlocked([&] { return s.audit_log(limit, about ? &*about : nullptr); }));
          },
          py::arg("limit") = 100, py::arg("about") = py::none());
  // -- the whole file: backup and vacuum --
  cls.def(
      "backup",
      [](const S& s, const std::string& dest, py::object progress, int pages_per_step) {
        records::Progress report = progress_reporter(progress);
        py::gil_scoped_release release;
        s.backup(dest, report, pages_per_step);
      },
      py::arg("dest"), py::arg("progress") = py::none(), py::arg("pages_per_step") = 1024);
  cls.def("vacuum", [](S& s) {
    records::Store::VacuumReport r;
    {
      py::gil_scoped_release release;
      r = s.vacuum();
    }
    return py::make_tuple(r.bytes_before, r.bytes_after);
  });
}

}  // namespace

void bind_scoped_store_api(py::class_<access::ScopedStore>& cls) { def_store_api(cls); }

void bind_records(py::module_& m) {
  m.attr("__version__") = crmcore::version();
  m.def("kinds", &describe_kinds, "The record kinds and their fields.");
  m.def("normalize_phone", [](const std::string& s) { return records::normalize_phone(s); });
  m.def("normalize_email", [](const std::string& s) { return records::normalize_email(s); });
  // Texts read as amounts (records::parse_amount): the numbers, and where
  // each was one. What is not text, or not valid text, is no amount.
  m.def(
      "parse_amounts",
      [](const py::list& texts) {
        std::vector<double> values(texts.size(), 0.0);
        std::vector<uint8_t> read(texts.size(), 0);
        std::string text;
        for (size_t i = 0; i < texts.size(); ++i) {
          PyObject* o = texts[i].ptr();
          if (!PyUnicode_Check(o) || !object_text(o, text).empty()) continue;
          if (const auto v = records::parse_amount(text)) values[i] = *v, read[i] = 1;
        }
        return py::make_tuple(to_numpy(std::move(values)), to_numpy(std::move(read)));
      },
      py::arg("texts"));

  m.attr("MAX_CUSTOM_DEPTH") = records::kMaxCustomDepth;

  py::class_<records::Store> store(m, "Store");
  store
      .def(py::init([](const std::string& path, bool readonly, bool allow_foreign, bool create) {
             py::gil_scoped_release release;
             return std::make_unique<records::Store>(path, records::OpenOptions{readonly, allow_foreign, create});
           }),
           py::arg("path"), py::arg("readonly") = false, py::arg("allow_foreign") = false, py::arg("create") = true)
      .def_property_readonly("path", &records::Store::path);
  def_store_api(store);
  bind_audit(m);

  // -- restore; what the core is built with --
  m.def(
      "restore",
      [](const std::string& backup, const std::string& dest, py::object progress, int pages_per_step) {
        records::Progress report = progress_reporter(progress);
        py::gil_scoped_release release;
        records::restore(backup, dest, report, pages_per_step);
      },
      py::arg("backup"), py::arg("dest"), py::arg("progress") = py::none(), py::arg("pages_per_step") = 1024);
  m.def(
      "copy_store",
      [](const std::string& from, const std::string& to) {
        records::CopyReport report;
        {
          py::gil_scoped_release release;
          report = records::Store::copy(from, to);
        }
        py::dict d;
        d["tables"] = report.tables;
        d["rows"] = report.rows;
        return d;
      },
      py::arg("from_"), py::arg("to"));
  m.def("build_info", [] {
    const BuildInfo info = build_info();
    py::dict d;
    d["sqlite"] = info.sqlite;
    d["sqlite_headers"] = info.sqlite_headers;
    d["sqlite_file"] = info.sqlite_file;
    d["json"] = info.json;
    d["compiler"] = info.compiler;
    d["cplusplus"] = info.cplusplus;
    return d;
  });
}

}  // namespace crmcore::bindings
