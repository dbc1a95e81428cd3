// Binding of the clv part (owned by its own change; placeholder until then).
#include "common.hpp"

namespace crmcore::bindings {

void bind_clv(py::module_& m) { (void)m; }

}  // namespace crmcore::bindings
