// Binding of the sales kernels: NumPy columns in, NumPy columns out; the
// work runs without the GIL.
#include "common.hpp"
#include "crmcore/sales/funnel.hpp"
#include "crmcore/sales/reports.hpp"

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

  m.def(
      "stage_days",
      [](Column<int64_t> deal, Column<int64_t> at, Column<uint8_t> terminal, int64_t deals, int64_t as_of) {
        same_length({deal.size(), at.size(), terminal.size()});
        std::vector<double> out;
        {
          py::gil_scoped_release release;
          out = sales::stage_days(deal.data(), at.data(), terminal.data(), static_cast<size_t>(deal.size()), deals,
                                  as_of);
        }
        return to_numpy(std::move(out));
      },
      py::arg("deal"), py::arg("at"), py::arg("terminal"), py::arg("deals"), py::arg("as_of"),
      "Days each stage-history row lasted (see crmcore/sales/reports.hpp).");
  m.def(
      "period_sums",
      [](Column<int64_t> key, Column<int64_t> at, Column<double> value, int64_t keys, Column<int64_t> target_key,
         Column<int64_t> start, Column<int64_t> end) {
        same_length({key.size(), at.size(), value.size()});
        same_length({target_key.size(), start.size(), end.size()});
        std::vector<double> out;
        {
          py::gil_scoped_release release;
          out = sales::period_sums(key.data(), at.data(), value.data(), static_cast<size_t>(key.size()), keys,
                                   target_key.data(), start.data(), end.data(), static_cast<size_t>(start.size()));
        }
        return to_numpy(std::move(out));
      },
      py::arg("key"), py::arg("at"), py::arg("value"), py::arg("keys"), py::arg("target_key"), py::arg("start"),
      py::arg("end"), "Sums of value per target's key and period (see crmcore/sales/reports.hpp).");
  m.def(
      "days_late",
      [](Column<int64_t> expected, Column<uint8_t> open, int64_t as_of) {
        same_length({expected.size(), open.size()});
        std::vector<double> out;
        {
          py::gil_scoped_release release;
          out = sales::days_late(expected.data(), open.data(), static_cast<size_t>(expected.size()), as_of);
        }
        return to_numpy(std::move(out));
      },
      py::arg("expected"), py::arg("open"), py::arg("as_of"), "Days past the expected close of open deals.");
  m.def(
      "first_at",
      [](Column<int64_t> deal, Column<int64_t> at, int64_t deals) {
        same_length({deal.size(), at.size()});
        std::vector<int64_t> out;
        {
          py::gil_scoped_release release;
          out = sales::first_at(deal.data(), at.data(), static_cast<size_t>(deal.size()), deals);
        }
        return to_numpy(std::move(out));
      },
      py::arg("deal"), py::arg("at"), py::arg("deals"), "Earliest time per deal code.");
  m.def(
      "win_loss",
      [](Column<int64_t> group, Column<int8_t> outcome, int64_t groups) {
        same_length({group.size(), outcome.size()});
        sales::Outcomes out;
        {
          py::gil_scoped_release release;
          out = sales::win_loss(group.data(), outcome.data(), static_cast<size_t>(group.size()), groups);
        }
        return py::make_tuple(to_numpy(std::move(out.won)), to_numpy(std::move(out.lost)));
      },
      py::arg("group"), py::arg("outcome"), py::arg("groups"), "Deals won and lost per group code.");
  m.def(
      "forecast_sums",
      [](Column<int64_t> group, Column<double> amount, Column<double> probability, Column<int8_t> category,
         int64_t groups, double commit, double best_case) {
        same_length({group.size(), amount.size(), probability.size(), category.size()});
        sales::Forecast out;
        {
          py::gil_scoped_release release;
          out = sales::forecast(group.data(), amount.data(), probability.data(), category.data(),
                                static_cast<size_t>(group.size()), groups, commit, best_case);
        }
        return py::make_tuple(to_numpy(std::move(out.open_deals)), to_numpy(std::move(out.won)),
                              to_numpy(std::move(out.pipeline)), to_numpy(std::move(out.weighted)),
                              to_numpy(std::move(out.commit)), to_numpy(std::move(out.best_case)));
      },
      py::arg("group"), py::arg("amount"), py::arg("probability"), py::arg("category"), py::arg("groups"),
      py::arg("commit"), py::arg("best_case"), "Forecast sums per group code (see crmcore/sales/reports.hpp).");
  m.def(
      "open_balances",
      [](Column<int64_t> invoice_ids, Column<int64_t> issued, Column<int64_t> due, Column<double> amount,
         Column<uint8_t> live, Column<int64_t> pay_invoice, Column<int64_t> paid_at, Column<double> settles,
         int64_t as_of) {
        same_length({invoice_ids.size(), issued.size(), due.size(), amount.size(), live.size()});
        same_length({pay_invoice.size(), paid_at.size(), settles.size()});
        sales::OpenBalances out;
        {
          py::gil_scoped_release release;
          out = sales::open_balances(invoice_ids.data(), issued.data(), due.data(), amount.data(), live.data(),
                                     static_cast<size_t>(invoice_ids.size()), pay_invoice.data(), paid_at.data(),
                                     settles.data(), static_cast<size_t>(pay_invoice.size()), as_of);
        }
        return py::make_tuple(to_numpy(std::move(out.rows)), to_numpy(std::move(out.paid)),
                              to_numpy(std::move(out.balance)), to_numpy(std::move(out.days_late)),
                              to_numpy(std::move(out.bucket)));
      },
      py::arg("invoice_ids"), py::arg("issued"), py::arg("due"), py::arg("amount"), py::arg("live"),
      py::arg("pay_invoice"), py::arg("paid_at"), py::arg("settles"), py::arg("as_of"),
      "Open invoices' positions, paid, balance, days late and bucket (see crmcore/sales/reports.hpp).");
}

}  // namespace crmcore::bindings
