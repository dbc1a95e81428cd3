// Binding of the store's data mark and column cache
// (crmcore/records/column_cache.hpp): cached columns reach NumPy as
// read-only views of the cache's own vectors, kept alive by the array.
#include <memory>

#include "common.hpp"
#include "crmcore/records/column_cache.hpp"
#include "crmcore/records/store.hpp"

namespace crmcore::bindings {

namespace {

using Snapshot = std::shared_ptr<const records::ColumnSnapshot>;

// A read-only array over `data`, holding `owner` (the snapshot) while it lives.
template <typename T>
py::array view(const std::vector<T>& data, const Snapshot& owner) {
  auto* keep = new Snapshot(owner);
  py::capsule release(keep, [](void* p) { delete static_cast<Snapshot*>(p); });
  py::array_t<T> out({static_cast<py::ssize_t>(data.size())}, {sizeof(T)}, data.data(), release);
  out.attr("setflags")(py::arg("write") = false);
  return out;
}

py::object column_object(const records::CachedColumn& c, const Snapshot& owner) {
  using Type = records::CachedColumn::Type;
  switch (c.type) {
    case Type::Int: return py::make_tuple(view(c.ints, owner), c.valid.empty() ? py::object(py::none()) : view(c.valid, owner));
    case Type::Real: return view(c.reals, owner);
    case Type::Text: return py::make_tuple(view(c.codes, owner), py::cast(c.dictionary));
    case Type::Tags: return py::make_tuple(view(c.offsets, owner), view(c.codes, owner), py::cast(c.dictionary));
  }
  return py::none();
}

}  // namespace

void bind_column_cache(py::module_& m) {
  auto store = py::reinterpret_borrow<py::class_<records::Store>>(m.attr("Store"));
  store.def(
      "data_mark",
      [](const records::Store& s) {
        records::DataMark mark;
        {
          py::gil_scoped_release release;
          mark = s.data_mark();
        }
        return py::make_tuple(mark.seq, mark.hash, mark.version);
      },
      "(seq, hash, data_version): changes on every committed write by any connection (Store::data_mark).");
  store.def(
      "cached_columns",
      [](const records::Store& s, const std::string& kind, const std::vector<std::string>& fields) {
        Snapshot snap;
        {
          Cancel cancel = python_cancel();
          py::gil_scoped_release release;
          snap = s.column_cache().columns(s, kind, fields, &cancel);
        }
        py::dict out;
        out["id"] = view(*snap->ids, snap);
        for (const auto& f : fields) out[py::str(f)] = column_object(snap->at(f), snap);
        return out;
      },
      py::arg("kind"), py::arg("fields"),
      "Columns of a kind from the column cache, read-only: 'id'; per field (values, valid or None) for whole "
      "numbers and times, values (NaN missing) for reals, (codes, labels) for text (-1 missing), (offsets, codes, "
      "labels) for tags.");
  store.def(
      "cached_ids",
      [](const records::Store& s, const std::string& kind, const py::list& groups) -> py::object {
        const records::AnyOf filter = to_filter(kind, groups);
        std::optional<std::vector<int64_t>> ids;
        {
          Cancel cancel = python_cancel();
          py::gil_scoped_release release;
          ids = records::cached_query(s, kind, filter, &cancel);
        }
        if (!ids) return py::none();
        return to_numpy(std::move(*ids));
      },
      py::arg("kind"), py::arg("groups"),
      "The ids Store.query gives for these conditions, from cached columns; None when a condition needs the store.");
  store.def(
      "column_cache_ready",
      [](const records::Store& s, const std::string& kind, const std::vector<std::string>& fields) {
        py::gil_scoped_release release;
        return s.column_cache().ready(s, kind, fields);
      },
      py::arg("kind"), py::arg("fields"),
      "Whether cached_columns(kind, fields) pays off now: kept at the current data mark, or asked about at it "
      "before (ColumnCache::ready); a no is noted, so the next ask at the same mark says yes.");
  store.def(
      "column_cache_stats",
      [](const records::Store& s) {
        const records::ColumnCache& c = s.column_cache();
        py::dict out;
        out["bytes"] = c.bytes();
        out["budget"] = c.budget();
        out["reads"] = c.reads();
        return out;
      },
      "What the column cache keeps (bytes), may keep (budget) and how many column reads reached the store.");
  store.def(
      "set_column_cache_budget", [](const records::Store& s, size_t bytes) { s.column_cache().set_budget(bytes); },
      py::arg("bytes"), "Bounds the column cache's memory (bytes; 0 keeps nothing).");
}

}  // namespace crmcore::bindings
