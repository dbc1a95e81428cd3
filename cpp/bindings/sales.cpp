// Binding of the sales kernels: NumPy columns in, NumPy columns out; the
// work runs without the GIL.
#include "arrow_text.hpp"
#include "common.hpp"
#include "crmcore/sales/attainment.hpp"
#include "crmcore/sales/codes.hpp"
#include "crmcore/sales/funnel.hpp"
#include "crmcore/sales/reports.hpp"

namespace crmcore::bindings {
namespace {

// A text column (object array) as codes into `allowed` (a field's allowed
// values, a pipeline's stage names): -1 for anything else (None, NaN, text
// not allowed). Compares the str objects themselves, length first, trying
// the previous row's value before the others: no UTF-8 copy per row and no
// hashing, which is what made pandas' isin/get_indexer cost more than the
// kernels they feed.
py::array_t<int32_t> text_codes(const py::array& values, const std::vector<std::string>& allowed) {
  auto objects = py::array::ensure(values, py::array::c_style);
  if (!objects || objects.dtype().kind() != 'O') throw py::type_error("expected an object array of text");
  std::vector<py::str> names;
  for (const auto& a : allowed) names.emplace_back(a);
  const auto n = static_cast<size_t>(objects.size());
  std::vector<int32_t> out(n, -1);
  auto* data = static_cast<PyObject* const*>(objects.data());
  int32_t hint = 0;
  auto same = [&](PyObject* o, int32_t k) {
    PyObject* name = names[static_cast<size_t>(k)].ptr();
    if (o == name) return true;
    if (PyUnicode_GET_LENGTH(o) != PyUnicode_GET_LENGTH(name)) return false;
    const int c = PyUnicode_Compare(o, name);
    if (c == -1 && PyErr_Occurred()) throw py::error_already_set();
    return c == 0;
  };
  const auto count = static_cast<int32_t>(names.size());
  for (size_t i = 0; i < n; ++i) {
    PyObject* o = data[i];
    if (!PyUnicode_Check(o) || count == 0) continue;
    if (same(o, hint)) {
      out[i] = hint;
      continue;
    }
    for (int32_t k = 0; k < count; ++k)
      if (k != hint && same(o, k)) {
        out[i] = hint = k;
        break;
      }
  }
  return to_numpy(std::move(out));
}

// Codes of one chunk of an Arrow string column.
template <typename Offset>
py::array_t<int32_t> arrow_codes(const py::array& offsets, const py::array& data, const py::object& validity,
                                 size_t first, size_t n, const std::vector<std::string>& allowed) {
  // The offsets' order is checked by code_texts on its way through the rows.
  const ArrowTextChunk<Offset> chunk(offsets, data, validity, first, n, "text codes", false);
  py::array_t<int32_t> out(static_cast<py::ssize_t>(n));  // not filled: code_texts writes every row
  int32_t* codes = out.mutable_data();
  size_t coded;
  {
    py::gil_scoped_release release;
    coded = sales::code_texts(chunk.offsets(), chunk.chars(), chunk.bits(), first, n, allowed, codes);
  }
  if (coded < n) ArrowTextChunk<Offset>::refuse_decreasing("text codes", coded);
  return out;
}

}  // namespace


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
  m.def("text_codes", &text_codes, py::arg("values"), py::arg("allowed"),
        "Codes of a text column into the allowed values (-1: anything else).");
  m.def(
      "arrow_text_codes",
      [](const py::array& offsets, const py::array& data, const py::object& validity, size_t first, size_t n,
         const std::vector<std::string>& allowed, bool large) {
        return large ? arrow_codes<int64_t>(offsets, data, validity, first, n, allowed)
                     : arrow_codes<int32_t>(offsets, data, validity, first, n, allowed);
      },
      py::arg("offsets"), py::arg("data"), py::arg("validity"), py::arg("first"), py::arg("n"), py::arg("allowed"),
      py::arg("large"), "Codes of an Arrow string chunk into the allowed values (see crmcore/sales/codes.hpp).");
  m.def(
      "funnel_groups",
      [](Column<int64_t> deal_ids, py::object deal_key, Column<double> deal_amount, Column<int64_t> row_deal,
         Column<int32_t> row_stage, Column<int64_t> row_at, std::vector<int32_t> stage_step,
         std::vector<int8_t> stage_category, int32_t steps, int period, int64_t as_of) {
        const size_t deals = same_length({deal_ids.size(), deal_amount.size()});
        const size_t rows = same_length({row_deal.size(), row_stage.size(), row_at.size()});
        // The key: None (one group), or (values, present): a deal whose key is not present is left out.
        Column<int64_t> key;
        Column<uint8_t> present;
        if (!deal_key.is_none()) {
          auto pair = deal_key.cast<py::tuple>();
          key = pair[0].cast<Column<int64_t>>();
          present = pair[1].cast<Column<uint8_t>>();
          same_length({key.size(), present.size(), static_cast<py::ssize_t>(deals)});
        }
        if (period < -1 || period > 2) throw std::invalid_argument("funnel: period code " + std::to_string(period));
        sales::FunnelStages stages{std::move(stage_step), {}, steps};
        for (int8_t c : stage_category) {
          if (c < 0 || c > 2) throw std::invalid_argument("funnel: stage category code " + std::to_string(c));
          stages.category.push_back(static_cast<sales::StageCategory>(c));
        }
        const sales::FunnelInput in{deal_ids.data(), deal_key.is_none() ? nullptr : key.data(),
                                    deal_key.is_none() ? nullptr : present.data(), deal_amount.data(), deals,
                                    row_deal.data(), row_stage.data(), row_at.data(), rows, period, as_of};
        sales::FunnelGroups out;
        {
          py::gil_scoped_release release;
          out = sales::funnel_groups(in, stages);
        }
        const auto groups = static_cast<py::ssize_t>(out.period.size());
        auto grid = [&](auto&& v) { return to_numpy(std::move(v)).reshape({groups, static_cast<py::ssize_t>(steps)}); };
        py::dict d;
        d["period"] = to_numpy(std::move(out.period));
        d["key"] = to_numpy(std::move(out.key));
        d["reached"] = grid(out.reached);
        d["amount"] = grid(out.amount);
        d["open"] = grid(out.open);
        d["lost"] = to_numpy(std::move(out.lost));
        d["first_read"] = out.first_read;
        return d;
      },
      py::arg("deal_ids"), py::arg("deal_key"), py::arg("deal_amount"), py::arg("row_deal"), py::arg("row_stage"),
      py::arg("row_at"), py::arg("stage_step"), py::arg("stage_category"), py::arg("steps"), py::arg("period"),
      py::arg("as_of"), "Every group's funnel in one pass (see crmcore/sales/funnel.hpp).");

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
      "month_sums",
      [](Column<int64_t> key, Column<int64_t> month, Column<double> value, int64_t keys, Column<int64_t> target_key,
         Column<int64_t> from, Column<int64_t> to) {
        same_length({key.size(), month.size(), value.size()});
        same_length({target_key.size(), from.size(), to.size()});
        std::vector<double> out;
        {
          py::gil_scoped_release release;
          out = sales::month_sums(key.data(), month.data(), value.data(), static_cast<size_t>(key.size()), keys,
                                  target_key.data(), from.data(), to.data(), static_cast<size_t>(from.size()));
        }
        return to_numpy(std::move(out));
      },
      py::arg("key"), py::arg("month"), py::arg("value"), py::arg("keys"), py::arg("target_key"), py::arg("from_"),
      py::arg("to"), "Sums of value per target's key and months (see crmcore/sales/reports.hpp).");
  m.def(
      "attainment_sums",
      [](const py::list& streams, int32_t metrics, Column<int64_t> credit_target, Column<int64_t> credit_owner,
         Column<int32_t> credit_metric, Column<int64_t> from, Column<int64_t> to) {
        const size_t n = same_length({credit_target.size(), credit_owner.size(), credit_metric.size()});
        const size_t targets = same_length({from.size(), to.size()});
        // The arrays are kept here while the GIL is released; a stream is
        // (metric, owner, missing or None, at, value or None).
        std::vector<Column<int64_t>> ints;
        std::vector<Column<uint8_t>> masks;
        std::vector<Column<double>> values;
        std::vector<sales::EventStream> in;
        for (const auto& item : streams) {
          auto t = item.cast<py::tuple>();
          if (t.size() != 5) throw std::invalid_argument("attainment: a stream is (metric, owner, missing, at, value)");
          sales::EventStream s;
          s.metric = t[0].cast<int32_t>();
          ints.push_back(t[1].cast<Column<int64_t>>());
          ints.push_back(t[3].cast<Column<int64_t>>());
          s.owner = ints[ints.size() - 2].data(), s.at = ints.back().data();
          s.rows = same_length({ints[ints.size() - 2].size(), ints.back().size()});
          if (!t[2].is_none()) {
            masks.push_back(t[2].cast<Column<uint8_t>>());
            same_length({masks.back().size(), static_cast<py::ssize_t>(s.rows)});
            s.missing = masks.back().data();
          }
          if (!t[4].is_none()) {
            values.push_back(t[4].cast<Column<double>>());
            same_length({values.back().size(), static_cast<py::ssize_t>(s.rows)});
            s.value = values.back().data();
          }
          in.push_back(s);
        }
        std::vector<double> out;
        {
          py::gil_scoped_release release;
          out = sales::attainment_sums(in, metrics, {credit_target.data(), credit_owner.data(), credit_metric.data(), n},
                                       from.data(), to.data(), targets);
        }
        return to_numpy(std::move(out));
      },
      py::arg("streams"), py::arg("metrics"), py::arg("credit_target"), py::arg("credit_owner"),
      py::arg("credit_metric"), py::arg("from_"), py::arg("to"),
      "Each target's sum of its credited owners' events in its months (see crmcore/sales/attainment.hpp).");
  m.def(
      "id_positions",
      [](Column<int64_t> ids, Column<int64_t> values) {
        std::vector<int64_t> out;
        {
          py::gil_scoped_release release;
          out = sales::id_positions(ids.data(), static_cast<size_t>(ids.size()), values.data(),
                                    static_cast<size_t>(values.size()));
        }
        return to_numpy(std::move(out));
      },
      py::arg("ids"), py::arg("values"), "Positions of values among ids, -1 where absent (see crmcore/sales/codes.hpp).");
  m.def(
      "months",
      [](Column<int64_t> at) {
        std::vector<int64_t> out;
        {
          py::gil_scoped_release release;
          out = sales::months(at.data(), static_cast<size_t>(at.size()));
        }
        return to_numpy(std::move(out));
      },
      py::arg("at"), "Months since January 1970 of times in ns (see crmcore/sales/reports.hpp).");
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
  m.def(
      "aging_groups",
      [](Column<int64_t> invoice_ids, py::object key, Column<int64_t> issued, Column<int64_t> due,
         Column<double> amount, Column<int32_t> status, std::vector<uint8_t> status_live, Column<int64_t> pay_invoice,
         Column<int64_t> paid_at, Column<double> settles, int64_t as_of, bool ids_in_order) {
        const size_t n = same_length({invoice_ids.size(), issued.size(), due.size(), amount.size(), status.size()});
        const size_t payments = same_length({pay_invoice.size(), paid_at.size(), settles.size()});
        Column<int64_t> values;
        Column<uint8_t> present;
        bool masked = false;
        if (!key.is_none()) {  // (values, present); present None: every invoice has its key
          auto pair = key.cast<py::tuple>();
          values = pair[0].cast<Column<int64_t>>();
          masked = !pair[1].is_none();
          if (masked) present = pair[1].cast<Column<uint8_t>>();
          same_length({values.size(), masked ? present.size() : values.size(), static_cast<py::ssize_t>(n)});
        }
        sales::Aging out;
        {
          py::gil_scoped_release release;
          out = sales::aging_groups(invoice_ids.data(), key.is_none() ? nullptr : values.data(),
                                    masked ? present.data() : nullptr, issued.data(), due.data(), amount.data(),
                                    status.data(), status_live, n, pay_invoice.data(), paid_at.data(), settles.data(),
                                    payments, as_of, ids_in_order);
        }
        const auto groups = static_cast<py::ssize_t>(out.keys.size());
        return py::make_tuple(to_numpy(std::move(out.keys)), to_numpy(std::move(out.sums)).reshape({groups, py::ssize_t{6}}));
      },
      py::arg("invoice_ids"), py::arg("key"), py::arg("issued"), py::arg("due"), py::arg("amount"), py::arg("status"),
      py::arg("status_live"), py::arg("pay_invoice"), py::arg("paid_at"), py::arg("settles"), py::arg("as_of"),
      py::arg("ids_in_order") = false,
      "Open balances per group key and aging bucket (see crmcore/sales/reports.hpp); ids_in_order: the caller "
      "knows invoice_ids[i] is invoice_ids[0] + i (not checked).");
}

}  // namespace crmcore::bindings
