// Binding of the scoring part (owned by its own change; placeholder until then).
#include "common.hpp"

namespace crmcore::bindings {

void bind_scoring(py::module_& m) { (void)m; }

}  // namespace crmcore::bindings
