// Binding of the scoring kernels: NumPy columns in (no copy when the dtype
// already matches), dicts of NumPy columns out; the work runs without the GIL.
#include <optional>
#include <string>

#include "common.hpp"
#include "crmcore/scoring/affinity.hpp"
#include "crmcore/scoring/profit.hpp"
#include "crmcore/scoring/rfm.hpp"
#include "crmcore/scoring/rhythm.hpp"
#include "crmcore/scoring/stats.hpp"

namespace crmcore::bindings {

namespace {

using namespace crmcore::scoring;
Ties parse_ties(const std::string& s) {
  if (s == "first") return Ties::First;
  if (s == "min") return Ties::Min;
  throw std::invalid_argument("ties must be 'first' or 'min', not '" + s + "'");
}

Period parse_period(const std::string& s) {
  if (s == "Y") return Period::Year;
  if (s == "Q") return Period::Quarter;
  if (s == "M") return Period::Month;
  throw std::invalid_argument("freq must be 'Y', 'Q' or 'M', not '" + s + "'");
}

template <typename T>
py::list to_numpy_list(std::vector<std::vector<T>>&& vs) {
  py::list out;
  for (auto& v : vs) out.append(to_numpy(std::move(v)));
  return out;
}

// The itemsets and rules of the affinity kernel as the dict crmcore.scoring.affinity reads.
py::dict affinity_dict(Itemsets sets, Rules rules) {
  py::dict d;
  d["baskets"] = sets.baskets;
  d["item"] = to_numpy(std::move(sets.item));
  d["offset"] = to_numpy(std::move(sets.offset));
  d["count"] = to_numpy(std::move(sets.count));
  d["antecedent"] = to_numpy(std::move(rules.antecedent));
  d["antecedent_offset"] = to_numpy(std::move(rules.antecedent_offset));
  d["consequent"] = to_numpy(std::move(rules.consequent));
  d["consequent_offset"] = to_numpy(std::move(rules.consequent_offset));
  d["antecedent_support"] = to_numpy(std::move(rules.antecedent_support));
  d["consequent_support"] = to_numpy(std::move(rules.consequent_support));
  d["support"] = to_numpy(std::move(rules.support));
  d["confidence"] = to_numpy(std::move(rules.confidence));
  d["lift"] = to_numpy(std::move(rules.lift));
  return d;
}

}  // namespace

void bind_scoring(py::module_& m) {
  m.def(
      "rfm",
      [](Column<int64_t> customer, Column<int64_t> date, Column<double> amount, std::optional<int64_t> as_of,
         int bins, const std::string& ties) {
        const size_t n = same_length({customer.size(), date.size(), amount.size()});
        const Ties t = parse_ties(ties);
        Rfm r;
        {
          py::gil_scoped_release release;
          Cancel cancel = python_cancel();
          r = rfm(customer.data(), date.data(), amount.data(), n, as_of, bins, t, cancel);
        }
        py::dict d;
        d["customer"] = to_numpy(std::move(r.customer));
        d["last"] = to_numpy(std::move(r.last));
        d["recency"] = to_numpy(std::move(r.recency));
        d["frequency"] = to_numpy(std::move(r.frequency));
        d["monetary"] = to_numpy(std::move(r.monetary));
        d["r_score"] = to_numpy(std::move(r.r_score));
        d["f_score"] = to_numpy(std::move(r.f_score));
        d["m_score"] = to_numpy(std::move(r.m_score));
        d["as_of"] = r.as_of;
        return d;
      },
      py::arg("customer"), py::arg("date"), py::arg("amount"), py::arg("as_of"), py::arg("bins"), py::arg("ties"));

  m.def(
      "quantile_scores",
      [](Column<double> value, int bins, bool higher_is_better, const std::string& ties) {
        const Ties t = parse_ties(ties);
        std::vector<int8_t> s;
        {
          py::gil_scoped_release release;
          s = quantile_scores(value.data(), static_cast<size_t>(value.size()), bins, higher_is_better, t);
        }
        return to_numpy(std::move(s));
      },
      py::arg("value"), py::arg("bins"), py::arg("higher_is_better"), py::arg("ties"));

  m.def(
      "profit_by_period",
      [](Column<int64_t> customer, Column<int64_t> date, Column<double> amount, Column<double> cost,
         const std::string& freq, std::optional<int64_t> last_period) {
        const size_t n = same_length({customer.size(), date.size(), amount.size(), cost.size()});
        const Period p = parse_period(freq);
        ProfitPeriods r;
        {
          py::gil_scoped_release release;
          Cancel cancel = python_cancel();
          r = profit_by_period(customer.data(), date.data(), amount.data(), cost.data(), n, p, cancel, last_period);
        }
        py::dict d;
        d["customer"] = to_numpy(std::move(r.customer));
        d["period"] = to_numpy(std::move(r.period));
        d["orders"] = to_numpy(std::move(r.orders));
        d["revenue"] = to_numpy(std::move(r.revenue));
        d["cost"] = to_numpy(std::move(r.cost));
        d["profit"] = to_numpy(std::move(r.profit));
        d["change"] = to_numpy(std::move(r.change));
        return d;
      },
      py::arg("customer"), py::arg("date"), py::arg("amount"), py::arg("cost"), py::arg("freq"),
      py::arg("last_period") = py::none());

  m.def(
      "pareto_classes",
      [](Column<double> value, std::vector<double> cutoffs) {
        ParetoClasses r;
        {
          py::gil_scoped_release release;
          r = pareto_classes(value.data(), static_cast<size_t>(value.size()), cutoffs);
        }
        py::dict d;
        d["cls"] = to_numpy(std::move(r.cls));
        d["rank"] = to_numpy(std::move(r.rank));
        d["share"] = to_numpy(std::move(r.share));
        d["cum_share"] = to_numpy(std::move(r.cum_share));
        return d;
      },
      py::arg("value"), py::arg("cutoffs"));

  m.def(
      "group_stats",
      [](Column<int64_t> key, std::vector<Column<double>> columns, bool medians) {
        std::vector<const double*> cols;
        for (auto& c : columns) {
          same_length({key.size(), c.size()});
          cols.push_back(c.data());
        }
        GroupStats r;
        {
          py::gil_scoped_release release;
          Cancel cancel = python_cancel();
          r = group_stats(key.data(), static_cast<size_t>(key.size()), cols, medians, cancel);
        }
        py::dict d;
        d["key"] = to_numpy(std::move(r.key));
        d["rows"] = to_numpy(std::move(r.rows));
        d["count"] = to_numpy_list(std::move(r.count));
        d["sum"] = to_numpy_list(std::move(r.sum));
        d["median"] = to_numpy_list(std::move(r.median));
        return d;
      },
      py::arg("key"), py::arg("columns"), py::arg("medians") = false);

  m.def(
      "purchase_rhythm",
      [](Column<int64_t> customer, Column<int64_t> date, std::optional<Column<double>> amount,
         std::optional<int64_t> as_of) {
        const size_t n = same_length({customer.size(), date.size(), amount ? amount->size() : customer.size()});
        Rhythm r;
        {
          py::gil_scoped_release release;
          Cancel cancel = python_cancel();
          r = purchase_rhythm(customer.data(), date.data(), amount ? amount->data() : nullptr, n, as_of, cancel);
        }
        py::dict d;
        d["customer"] = to_numpy(std::move(r.customer));
        d["purchases"] = to_numpy(std::move(r.purchases));
        d["first"] = to_numpy(std::move(r.first));
        d["last"] = to_numpy(std::move(r.last));
        d["amount"] = to_numpy(std::move(r.amount));
        d["mean_gap"] = to_numpy(std::move(r.mean_gap));
        d["cv_gap"] = to_numpy(std::move(r.cv_gap));
        return d;
      },
      py::arg("customer"), py::arg("date"), py::arg("amount"), py::arg("as_of"));

  m.def(
      "rhythm_risk",
      [](Column<double> silence, Column<double> mean_gap, Column<double> cv_gap, Column<int64_t> purchases,
         double prior_mean, double prior_cv, double prior_weight) {
        const size_t n = same_length({silence.size(), mean_gap.size(), cv_gap.size(), purchases.size()});
        std::vector<double> r;
        {
          py::gil_scoped_release release;
          r = rhythm_risk(silence.data(), mean_gap.data(), cv_gap.data(), purchases.data(), n, prior_mean, prior_cv,
                          prior_weight);
        }
        return to_numpy(std::move(r));
      },
      py::arg("silence"), py::arg("mean_gap"), py::arg("cv_gap"), py::arg("purchases"), py::arg("prior_mean"),
      py::arg("prior_cv"), py::arg("prior_weight"));

  m.def(
      "gamma_cdf",
      [](Column<double> x, double shape, double scale) {
        std::vector<double> out(static_cast<size_t>(x.size()));
        for (size_t i = 0; i < out.size(); ++i) out[i] = gamma_cdf(x.data()[i], shape, scale);
        return to_numpy(std::move(out));
      },
      py::arg("x"), py::arg("shape"), py::arg("scale"));

  m.def(
      "affinity",
      [](Column<int64_t> basket, Column<int64_t> item, double min_support, int max_len, double min_confidence) {
        const size_t n = same_length({basket.size(), item.size()});
        Itemsets sets;
        Rules rules;
        {
          py::gil_scoped_release release;
          Cancel cancel = python_cancel();
          sets = frequent_itemsets(basket.data(), item.data(), n, min_support, max_len, cancel);
          rules = association_rules(sets, min_confidence, cancel);
        }
        return affinity_dict(std::move(sets), std::move(rules));
      },
      py::arg("basket"), py::arg("item"), py::arg("min_support"), py::arg("max_len"), py::arg("min_confidence"));

  // The rules of itemsets counted elsewhere (the sums of a distributed count,
  // crmcore.spark): the same kernel, so the same numbers as in one process.
  m.def(
      "affinity_rules",
      [](Column<int64_t> item, Column<int64_t> offset, Column<int64_t> count, int64_t baskets,
         double min_confidence) {
        Itemsets sets;
        sets.baskets = baskets;
        sets.item.assign(item.data(), item.data() + item.size());
        sets.count.assign(count.data(), count.data() + count.size());
        bool valid = offset.size() == count.size() + 1 && offset.data()[0] == 0 &&
                     offset.data()[offset.size() - 1] == static_cast<int64_t>(item.size());
        for (size_t s = 0; valid && s + 1 < static_cast<size_t>(offset.size()); ++s)
          valid = offset.data()[s] <= offset.data()[s + 1];
        if (!valid) throw std::invalid_argument("affinity_rules: offset must rise from 0 to len(item), one per count");
        sets.offset.assign(offset.data(), offset.data() + offset.size());
        Rules rules;
        {
          py::gil_scoped_release release;
          Cancel cancel = python_cancel();
          rules = association_rules(sets, min_confidence, cancel);
        }
        return affinity_dict(std::move(sets), std::move(rules));
      },
      py::arg("item"), py::arg("offset"), py::arg("count"), py::arg("baskets"), py::arg("min_confidence"));
}

}  // namespace crmcore::bindings
