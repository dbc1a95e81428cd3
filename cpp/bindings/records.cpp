// Binding of the record store (placeholder until the store lands).
#include "common.hpp"
#include "crmcore/version.hpp"

namespace crmcore::bindings {

void bind_records(py::module_& m) { m.attr("__version__") = crmcore::version(); }

}  // namespace crmcore::bindings
