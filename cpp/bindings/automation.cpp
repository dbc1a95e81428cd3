// Binding of automation and membership: Store.run_rule (the actions of a
// time-triggered rule, see cpp/src/automation/rules.cpp) and the points
// kernels (crmcore/automation/members.hpp), NumPy columns in and out.
#include "common.hpp"
#include "crmcore/access/access.hpp"
#include "crmcore/automation/members.hpp"
#include "crmcore/records/store.hpp"

namespace crmcore::bindings {

namespace {

// run_rule on the unscoped store and on a scoped handle (admins only there).
template <class S>
void def_run_rule(py::class_<S>& cls) {
  cls.def(
      "run_rule",
      [](S& s, int64_t rule, Column<int64_t> ids, Column<int64_t> occasions, Column<double> values,
         int64_t now, bool act) {
        same_length({ids.size(), occasions.size(), values.size()});
        std::vector<int64_t> i(ids.data(), ids.data() + ids.size()), o(occasions.data(), occasions.data() + occasions.size());
        std::vector<double> v(values.data(), values.data() + values.size());
        std::vector<int64_t> out;
        {
          py::gil_scoped_release release;
          out = s.run_rule(rule, i, o, v, now, act);
        }
        return to_numpy(std::move(out));
      },
      py::arg("rule"), py::arg("ids"), py::arg("occasions"), py::arg("values"), py::arg("now"), py::arg("act") = true);
}

}  // namespace

void bind_automation(py::module_& m) {
  auto store = py::reinterpret_borrow<py::class_<records::Store>>(m.attr("Store"));
  def_run_rule(store);
  auto scoped = py::reinterpret_borrow<py::class_<access::ScopedStore>>(m.attr("ScopedStore"));
  def_run_rule(scoped);

  m.def(
      "points_balance",
      [](Column<int64_t> member, Column<int64_t> at, Column<double> points, int64_t members, int64_t as_of) {
        same_length({member.size(), at.size(), points.size()});
        std::vector<double> out;
        {
          py::gil_scoped_release release;
          out = automation::points_balance(member.data(), at.data(), points.data(), static_cast<size_t>(member.size()),
                                           members, as_of);
        }
        return to_numpy(std::move(out));
      },
      py::arg("member"), py::arg("at"), py::arg("points"), py::arg("members"), py::arg("as_of"));
  m.def(
      "points_expiring",
      [](Column<int64_t> member, Column<int64_t> at, Column<double> points, Column<int64_t> expires_at,
         int64_t members, int64_t as_of) {
        same_length({member.size(), at.size(), points.size(), expires_at.size()});
        std::vector<double> out;
        {
          py::gil_scoped_release release;
          out = automation::points_expiring(member.data(), at.data(), points.data(), expires_at.data(),
                                            static_cast<size_t>(member.size()), members, as_of);
        }
        return to_numpy(std::move(out));
      },
      py::arg("member"), py::arg("at"), py::arg("points"), py::arg("expires_at"), py::arg("members"), py::arg("as_of"));
  m.def(
      "tier_of",
      [](Column<double> values, Column<double> thresholds) {
        std::vector<int32_t> out;
        {
          py::gil_scoped_release release;
          out = automation::tier_of(values.data(), static_cast<size_t>(values.size()), thresholds.data(),
                                    static_cast<size_t>(thresholds.size()));
        }
        return to_numpy(std::move(out));
      },
      py::arg("values"), py::arg("thresholds"));
}

}  // namespace crmcore::bindings
