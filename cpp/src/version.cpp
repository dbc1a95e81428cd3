#include "crmcore/version.hpp"

namespace crmcore {
const char* version() { return "0.1.0"; }
}  // namespace crmcore
