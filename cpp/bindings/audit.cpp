// Binding of the store's audit chain, its actor, personal-data rights and
// open modes: converts only.
#include <string>

#include "common.hpp"
#include "crmcore/records/sha256.hpp"
#include "crmcore/records/store.hpp"

namespace crmcore::bindings {

void bind_audit(py::module_& m) {
  auto store = py::reinterpret_borrow<py::class_<records::Store>>(m.attr("Store"));
  store.def(
      "audit_check",
      [](const records::Store& s) {
        std::vector<records::AuditProblem> problems;
        {
          py::gil_scoped_release release;
          problems = s.audit_check();
        }
        py::list out;
        for (const auto& p : problems) out.append(py::make_tuple(p.seq, p.reason));
        return out;
      });
  store.def_property("actor", &records::Store::actor, &records::Store::set_actor);
  store.def_property_readonly("readonly", &records::Store::readonly);
  store.def_property_readonly("foreign_objects", &records::Store::foreign_objects);
  store.def(
      "erase_person",
      [](records::Store& s, int64_t id) {
        records::ErasureReport r;
        {
          py::gil_scoped_release release;
          r = s.erase_person(id);
        }
        py::dict out;
        out["records"] = r.records;
        out["audit_entries"] = r.audit_entries;
        out["wal_truncated"] = r.wal_truncated;
        return out;
      },
      py::arg("id"));
  m.def(
      "_sha256_hex", [](py::bytes data) { return records::sha256_hex(std::string(data)); }, py::arg("data"),
      "SHA-256 of bytes as hex, the audit chain's own implementation (exposed for its tests).");
}

}  // namespace crmcore::bindings
