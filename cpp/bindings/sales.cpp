// Binding of the sales kernels: NumPy columns in, NumPy columns out; the
// work runs without the GIL.
#include "common.hpp"
#include "crmcore/sales/funnel.hpp"

namespace crmcore::bindings {

void bind_sales(py::module_& m) {
  m.def(
      "funnel_reached",
      [](py::array_t<int64_t, py::array::c_style | py::array::forcecast> deal,
         py::array_t<int32_t, py::array::c_style | py::array::forcecast> step, int64_t deals, int32_t steps) {
        if (deal.size() != step.size()) throw std::invalid_argument("deal and step must have the same length");
        std::vector<int64_t> out;
        {
          py::gil_scoped_release release;
          out = sales::funnel_reached(deal.data(), step.data(), static_cast<size_t>(deal.size()), deals, steps);
        }
        return to_numpy(std::move(out));
      },
      py::arg("deal"), py::arg("step"), py::arg("deals"), py::arg("steps"),
      "Deals that reached each funnel step (see crmcore/sales/funnel.hpp).");
}

}  // namespace crmcore::bindings
