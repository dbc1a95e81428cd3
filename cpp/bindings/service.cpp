// Binding of the service kernels (business hours for SLAs): NumPy columns in
// and out; the work runs without the GIL.
#include "common.hpp"
#include "crmcore/service/business_hours.hpp"

namespace crmcore::bindings {

void bind_service(py::module_& m) {
  using service::BusinessCalendar;
  py::class_<BusinessCalendar>(m, "BusinessCalendar",
                               "Working days and opening hours (see crmcore/service/business_hours.hpp).")
      .def(py::init([](int64_t utc_offset_s, int64_t open_s, int64_t close_s, const py::handle& holidays,
                       const py::handle& workdays) {
             return BusinessCalendar(utc_offset_s, open_s, close_s, to_vector<int64_t>(holidays),
                                     to_vector<int64_t>(workdays));
           }),
           py::arg("utc_offset_s"), py::arg("open_s"), py::arg("close_s"), py::arg("holidays"), py::arg("workdays"))
      .def(
          "is_working_day",
          [](const BusinessCalendar& cal, Column<int64_t> days) {
            std::vector<uint8_t> out(static_cast<size_t>(days.size()));
            for (size_t i = 0; i < out.size(); ++i) out[i] = cal.is_working_day(days.data()[i]);
            return to_numpy(std::move(out));
          },
          py::arg("days"), "Whether each local date (days since 1970-01-01) is a working day.")
      .def(
          "hours_between",
          [](const BusinessCalendar& cal, Column<int64_t> start, Column<int64_t> end) {
            const size_t n = same_length({start.size(), end.size()});
            std::vector<double> out;
            {
              py::gil_scoped_release release;
              out = service::working_hours_between(cal, start.data(), end.data(), n);
            }
            return to_numpy(std::move(out));
          },
          py::arg("start"), py::arg("end"), "Working hours from each start to its end (ns since the epoch).")
      .def(
          "add_hours",
          [](const BusinessCalendar& cal, Column<int64_t> start, Column<double> hours) {
            const size_t n = same_length({start.size(), hours.size()});
            std::vector<int64_t> out;
            {
              py::gil_scoped_release release;
              out = service::add_working_hours(cal, start.data(), hours.data(), n);
            }
            return to_numpy(std::move(out));
          },
          py::arg("start"), py::arg("hours"), "The instant that many working hours after each start.");
}

}  // namespace crmcore::bindings
