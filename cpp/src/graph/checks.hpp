#pragma once
// Refusing a bad argument of a graph algorithm: a crmcore::ValidationError
// whose kind is the algorithm and whose field is the parameter, so callers
// learn which value was wrong and what would be right.
#include <sstream>
#include <string>

#include "crmcore/errors.hpp"

namespace crmcore::graph {

// `value` as a reader would write it (1.5, 1e-15, nan), not std::to_string's 1.500000.
template <typename T>
std::string shown(T value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

[[noreturn]] inline void refuse(const char* algorithm, const char* parameter, const std::string& reason) {
  throw ValidationError(algorithm, -1, parameter, reason);
}

}  // namespace crmcore::graph
