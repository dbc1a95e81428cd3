// Binding of a store's schema: its description, declared custom fields,
// allowed values and labels, and tags changed in bulk.
#include <cmath>

#include "common.hpp"
#include "crmcore/access/access.hpp"
#include "crmcore/errors.hpp"
#include "crmcore/records/store.hpp"

namespace crmcore::bindings {

py::dict field_dict(const records::Field& f) {
  py::dict d;
  d["name"] = f.name;
  d["type"] = records::to_string(f.type);
  d["required"] = f.required;
  d["ref_kind"] = f.ref_kind;
  d["choices"] = f.choices;
  d["closed"] = !f.choices.empty() && !f.open_choices;
  py::list labels;
  for (const auto& l : f.labels) labels.append(py::make_tuple(l.label, l.value, l.lang));
  d["labels"] = labels;
  d["lookup"] = f.lookup == records::Lookup::Phone ? "phone" : f.lookup == records::Lookup::Email ? "email" : "";
  d["unique"] = f.unique;
  const bool ranged = f.min < f.max;
  d["min"] = ranged ? py::object(py::float_(f.min)) : py::object(py::none());
  d["max"] = ranged && std::isfinite(f.max) ? py::object(py::float_(f.max)) : py::object(py::none());
  d["max_future_days"] = f.max_future_days >= 0 ? py::object(py::int_(f.max_future_days)) : py::object(py::none());
  d["default"] = f.default_value;
  d["differs_from"] = f.differs_from;
  d["linked_to"] = f.linked_to;
  d["since_version"] = f.since_version;
  d["written_by_store"] = f.written_by_store;
  return d;
}

// The schema methods, bound alike for the store and a scoped store.
template <class S>
void def_schema_api(py::class_<S>& cls) {
  cls
      .def(
          "describe",
          [](S& s, const std::string& kind) {
            records::Kind k;
            std::vector<std::string> indexed;
            {
              py::gil_scoped_release release;
              k = s.describe(kind);
              indexed = s.indexes(kind);
            }
            py::list fields, custom, rules;
            for (const auto& f : k.fields) fields.append(field_dict(f));
            for (const auto& f : k.custom) custom.append(field_dict(f));
            for (const auto& r : k.unique_rules) {
              py::dict d;
              d["name"] = r.name;
              d["fields"] = r.fields;
              d["when"] = r.when;
              d["why"] = r.why;
              rules.append(d);
            }
            py::dict out;
            out["name"] = k.name;
            out["fields"] = fields;
            out["custom"] = custom;
            out["indexed"] = indexed;
            out["unique_rules"] = rules;
            return out;
          },
          py::arg("kind"))
      .def(
          "declare_custom",
          [](S& s, const std::string& kind, const std::string& name, const std::string& type,
             const std::vector<std::string>& choices, bool required, bool index) {
            const auto parsed = records::parse_field_type(type);
            if (!parsed || *parsed == records::FieldType::Ref || *parsed == records::FieldType::AnyRef)
              throw ValidationError(kind, -1, records::kCustomPrefix + name,
                                    "the type '" + type + "' is not one of: text, integer, real, time, bool");
            py::gil_scoped_release release;
            s.declare_custom(kind, name, *parsed, choices, required, index);
          },
          py::arg("kind"), py::arg("name"), py::arg("type"), py::arg("choices"), py::arg("required"),
          py::arg("index"))
      .def(
          "allow",
          [](S& s, const std::string& kind, const std::string& field, const std::string& value,
             const std::vector<std::pair<std::string, std::string>>& labels, bool add_value) {
            std::vector<records::Label> given;
            for (const auto& [lang, label] : labels) given.push_back(records::Label{label, value, lang});
            py::gil_scoped_release release;
            s.allow(kind, field, value, given, add_value);
          },
          py::arg("kind"), py::arg("field"), py::arg("value"), py::arg("labels"), py::arg("add_value"))
      .def(
          "retag",
          [](S& s, const std::string& kind, const py::handle& ids, const std::vector<std::string>& add,
             const std::vector<std::string>& remove) {
            std::vector<int64_t> wanted = to_vector<int64_t>(ids);
            std::vector<int64_t> changed;
            {
              py::gil_scoped_release release;
              changed = s.retag(kind, wanted, add, remove);
            }
            return to_numpy(std::move(changed));
          },
          py::arg("kind"), py::arg("ids"), py::arg("add"), py::arg("remove"));
}

void bind_schema(py::module_& m) {
  auto store = py::reinterpret_borrow<py::class_<records::Store>>(m.attr("Store"));
  def_schema_api(store);
}

void bind_scoped_schema_api(py::class_<access::ScopedStore>& cls) { def_schema_api(cls); }

}  // namespace crmcore::bindings
