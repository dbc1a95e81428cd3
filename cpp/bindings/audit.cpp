// Binding of the store's audit chain, its actor, personal-data rights and
// open modes: converts only.
#include <string>
#include <type_traits>

#include "common.hpp"
#include "crmcore/access/access.hpp"
#include "crmcore/records/owner_migration.hpp"
#include "crmcore/records/sha256.hpp"
#include "crmcore/records/store.hpp"

namespace crmcore::bindings {

namespace {

// The audit check, a person's erasure and the owner migration, bound alike
// for the store and a scoped store (which lets admins only).
template <class S>
void def_store_wide(py::class_<S>& cls) {
  cls.def("audit_check", [](const S& s) {
    std::vector<records::AuditProblem> problems;
    {
      py::gil_scoped_release release;
      problems = s.audit_check();
    }
    py::list out;
    for (const auto& p : problems) out.append(py::make_tuple(p.seq, p.reason));
    return out;
  });
  cls.def(
      "erase_person",
      [](S& s, int64_t id) {
        records::ErasureReport r;
        {
          py::gil_scoped_release release;
          r = s.erase_person(id);
        }
        py::dict out;
        out["records"] = r.records;
        out["records_changed"] = r.records_changed;
        out["audit_entries"] = r.audit_entries;
        out["wal_truncated"] = r.wal_truncated;
        out["vacuumed"] = r.vacuumed;
        return out;
      },
      py::arg("id"));
  cls.def("migrate_owners", [](S& s) {
    py::gil_scoped_release release;
    if constexpr (std::is_same_v<S, records::Store>) return records::migrate_owners(s);
    else return s.migrate_owners();
  });
}

}  // namespace

void bind_scoped_audit_api(py::class_<access::ScopedStore>& cls) { def_store_wide(cls); }

void bind_audit(py::module_& m) {
  auto store = py::reinterpret_borrow<py::class_<records::Store>>(m.attr("Store"));
  def_store_wide(store);
  store.def_property("actor", &records::Store::actor, &records::Store::set_actor);
  store.def_property_readonly("readonly", &records::Store::readonly);
  store.def_property_readonly("foreign_objects", &records::Store::foreign_objects);
  m.def(
      "_sha256_hex", [](py::bytes data) { return records::sha256_hex(std::string(data)); }, py::arg("data"),
      "SHA-256 of bytes as hex, the audit chain's own implementation (exposed for its tests).");
}

}  // namespace crmcore::bindings
