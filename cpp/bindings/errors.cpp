// One Python exception hierarchy, registered once, and one translator that
// maps each core error type to its Python class.
#include "common.hpp"
#include "crmcore/errors.hpp"

namespace crmcore::bindings {

namespace {

// Classes live for the life of the interpreter; plain pointers avoid
// destructor-order trouble at exit.
PyObject* error_cls = nullptr;
PyObject* validation_cls = nullptr;
PyObject* not_found_cls = nullptr;
PyObject* storage_cls = nullptr;

PyObject* new_class(py::module_& m, const char* name, py::tuple bases, const char* doc,
                    const py::dict& attributes = py::dict()) {
  std::string qualified = std::string("crmcore.") + name;
  PyObject* cls = PyErr_NewExceptionWithDoc(qualified.c_str(), doc, bases.ptr(), attributes.ptr());
  if (!cls) throw py::error_already_set();
  m.add_object(name, py::reinterpret_borrow<py::object>(cls));
  return cls;
}

py::object none_if_negative(int64_t v) { return v >= 0 ? py::object(py::int_(v)) : py::none(); }

// Messages quote what the user gave, which may not be valid UTF-8 (a file's
// bytes): decoded with replacement, an error never fails to be raised.
py::str text(const std::string& s) {
  PyObject* o = PyUnicode_DecodeUTF8(s.data(), static_cast<Py_ssize_t>(s.size()), "replace");
  if (!o) throw py::error_already_set();
  return py::reinterpret_steal<py::str>(o);
}

void set_error(PyObject* cls, const char* what) { PyErr_SetObject(cls, text(what).ptr()); }

}  // namespace

void bind_errors(py::module_& m) {
  py::handle base_exc(PyExc_Exception);
  error_cls = new_class(m, "Error", py::make_tuple(base_exc), "Base of every crmcore error.");
  py::handle err(error_cls);
  // ValidationError is also a ValueError and NotFound a KeyError, so handlers
  // written for the builtins still catch them.
  // The attributes default to None on the class, so an error raised from
  // Python with only a message still has them (the translator below and
  // crmcore._args fill what they know).
  py::dict unknown;
  for (const char* a : {"kind", "row", "field", "reason", "record_id"}) unknown[a] = py::none();
  validation_cls = new_class(m, "ValidationError", py::make_tuple(err, py::handle(PyExc_ValueError)),
                             "Bad input. Attributes: kind, row, field, reason, record_id (None when unknown).",
                             unknown);
  not_found_cls = new_class(m, "NotFound", py::make_tuple(err, py::handle(PyExc_KeyError)),
                            "A record, node or column that does not exist.");
  storage_cls = new_class(m, "StorageError", py::make_tuple(err),
                          "The storage engine failed (I/O, locking, corruption).");
  new_class(m, "InterruptedAfterCommit", py::make_tuple(py::handle(PyExc_KeyboardInterrupt)),
            "Ctrl-C came while a write was committing: the write was saved whole, so do not run it again. "
            "Attribute: result, what the write returned.");

  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const crmcore::Interrupted&) {
      PyErr_SetNone(PyExc_KeyboardInterrupt);
    } catch (const crmcore::ValidationError& e) {
      py::object exc = py::reinterpret_borrow<py::object>(validation_cls)(text(e.what()));
      exc.attr("kind") = text(e.kind());
      exc.attr("row") = none_if_negative(e.row());
      exc.attr("field") = e.field().empty() ? py::object(py::none()) : py::object(text(e.field()));
      exc.attr("reason") = text(e.reason());
      exc.attr("record_id") = none_if_negative(e.record_id());
      PyErr_SetObject(validation_cls, exc.ptr());
    } catch (const crmcore::NotFound& e) {
      set_error(not_found_cls, e.what());
    } catch (const crmcore::StorageError& e) {
      set_error(storage_cls, e.what());
    } catch (const crmcore::Error& e) {
      set_error(error_cls, e.what());
    } catch (const std::bad_alloc&) {
      PyErr_SetString(PyExc_MemoryError, "out of memory");
    } catch (const std::invalid_argument& e) {
      set_error(PyExc_ValueError, e.what());
    } catch (const std::out_of_range& e) {
      set_error(PyExc_IndexError, e.what());
    }
  });
}

}  // namespace crmcore::bindings
