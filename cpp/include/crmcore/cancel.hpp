#pragma once
// Long loops call a Cancel now and then; the binding layer supplies one that
// briefly takes the GIL and checks for Ctrl-C, so a notebook user can stop a
// run. The core itself knows nothing of Python.
#include <cstdint>
#include <functional>

#include "crmcore/errors.hpp"

namespace crmcore {

class Cancel {
 public:
  Cancel() = default;
  explicit Cancel(std::function<bool()> should_stop, uint64_t every = 1u << 16)
      : should_stop_(std::move(should_stop)), every_(every ? every : 1) {}

  // Asks the check now, whatever the count (for callers that cannot throw,
  // such as SQLite's progress handler).
  bool requested() const { return should_stop_ && should_stop_(); }

  // Call once per unit of work; throws Interrupted when the check says stop.
  void tick(uint64_t units = 1) {
    if (!should_stop_) return;
    counter_ += units;
    if (counter_ >= every_) {
      counter_ = 0;
      if (should_stop_()) throw Interrupted();
    }
  }

 private:
  std::function<bool()> should_stop_;
  uint64_t every_ = 1u << 16;
  uint64_t counter_ = 0;
};

}  // namespace crmcore
