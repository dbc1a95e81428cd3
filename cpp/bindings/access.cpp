// Binding of access: the scoped store (the store's methods, bound by
// records.cpp and schema.cpp for it too), crm.PermissionDenied, and the
// acting user the store's writes are made for.
#include "common.hpp"
#include "crmcore/access/access.hpp"

namespace crmcore::bindings {

void bind_scoped_store_api(py::class_<access::ScopedStore>& cls);
void bind_scoped_schema_api(py::class_<access::ScopedStore>& cls);
void bind_scoped_audit_api(py::class_<access::ScopedStore>& cls);

namespace {

PyObject* permission_cls = nullptr;  // lives as long as the interpreter

}  // namespace

void bind_access(py::module_& m) {
  py::object error = m.attr("Error");
  // Also a PermissionError, so handlers written for the builtin catch it.
  permission_cls = PyErr_NewExceptionWithDoc(
      "crmcore.PermissionDenied", "The access rules refuse this action to the scoped handle's user.",
      py::make_tuple(error, py::handle(PyExc_PermissionError)).ptr(), nullptr);
  if (!permission_cls) throw py::error_already_set();
  m.add_object("PermissionDenied", py::reinterpret_borrow<py::object>(permission_cls));
  // Registered after the core's translator, so tried before it.
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const access::PermissionDenied& e) {
      PyObject* text = PyUnicode_DecodeUTF8(e.what(), static_cast<Py_ssize_t>(std::strlen(e.what())), "replace");
      PyErr_SetObject(permission_cls, text);
      Py_XDECREF(text);
    }
  });


  py::class_<access::ScopedStore> scoped(m, "ScopedStore");
  scoped
      .def(py::init([](records::Store& s, int64_t user) {
             py::gil_scoped_release release;
             return std::make_unique<access::ScopedStore>(s, user);
           }),
           py::arg("store"), py::arg("user"), py::keep_alive<1, 2>())
      .def_property_readonly("path", &access::ScopedStore::path)
      .def_property_readonly("user", &access::ScopedStore::user)
      .def_property_readonly("role", &access::ScopedStore::role)
      .def_property_readonly("mode", [](const access::ScopedStore& s) { return access::to_string(s.mode()); })
      .def(
          "readable",
          [](const access::ScopedStore& s, const std::string& kind) -> py::object {
            std::optional<std::vector<int64_t>> ids;
            {
              py::gil_scoped_release release;
              ids = s.readable(kind);
            }
            if (!ids) return py::none();
            return to_numpy(std::move(*ids));
          },
          py::arg("kind"))
      .def("require_admin", &access::ScopedStore::require_admin, py::arg("what"),
           "Raises PermissionDenied, naming `what`, unless the handle's user is an admin.")
      .def("rights", &access::ScopedStore::rights, py::arg("kind"), py::arg("id"),
           py::call_guard<py::gil_scoped_release>());
  bind_scoped_store_api(scoped);
  bind_scoped_schema_api(scoped);
  bind_scoped_audit_api(scoped);
  m.def(
      "access_rules",
      [] {
        py::dict out;
        for (const auto& [kind, rule] : access::kind_rules()) {
          py::list parents;
          for (size_t i = 0; i < rule.parents.size(); ++i) parents.append(py::make_tuple(rule.parents[i], rule.parent_kinds[i]));
          py::dict d;
          d["owner"] = rule.owner;
          d["parents"] = parents;
          out[py::str(kind)] = d;
        }
        return out;
      },
      "Each ruled kind's owner field and parents ((field, kind) pairs), as derived from the kind table.");
  m.def("store_mode", [](const records::Store& s) { return access::to_string(access::store_mode(s)); },
        py::arg("store"));
  m.def("parse_mode", [](const std::string& text) { return access::to_string(access::parse_mode(text)); },
        py::arg("text"));
}

}  // namespace crmcore::bindings
