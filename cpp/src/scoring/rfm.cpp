#include "crmcore/scoring/rfm.hpp"

#include <algorithm>
#include <future>
#include <stdexcept>

#include "crmcore/scoring/group.hpp"

namespace crmcore::scoring {

std::vector<int8_t> quantile_scores(const double* value, size_t n, int bins, bool higher_is_better,
                                    Ties ties) {
  if (bins < 1 || bins > 100) throw std::invalid_argument("bins must be between 1 and 100");
  std::vector<double> goodness(value, value + n);
  if (!higher_is_better)
    for (auto& v : goodness) v = -v;
  const std::vector<uint32_t> order = stable_argsort(goodness.data(), n);
  std::vector<int8_t> score(n);
  const uint64_t denom = n > 1 ? n - 1 : 1;
  for (size_t p = 0; p < n; ++p) {
    const uint64_t k = (p * static_cast<uint64_t>(bins) + denom - 1) / denom;  // ceil
    score[order[p]] = static_cast<int8_t>(std::max<uint64_t>(1, k));
  }
  if (ties == Ties::Min)
    for (size_t p = 1; p < n; ++p)
      if (goodness[order[p]] == goodness[order[p - 1]]) score[order[p]] = score[order[p - 1]];
  return score;
}

Rfm rfm(const int64_t* customer, const int64_t* date, const double* amount, size_t n,
        std::optional<int64_t> as_of, int bins, Ties ties, Cancel& cancel) {
  require_times(date, n, "transactions", "date");
  require_finite(amount, n, "transactions", "amount");
  // One record per customer keeps the three running values on one cache line.
  struct Acc {
    int64_t last;
    int64_t count;
    double sum;
  };
  const int64_t cutoff = as_of ? *as_of : INT64_MAX;
  auto add = [&](Acc& a, size_t i) {
    if (date[i] > cutoff) return;
    a.last = std::max(a.last, date[i]);
    ++a.count;
    a.sum += amount[i];
  };
  // Dense ids aggregate straight into a table indexed by id, skipping the
  // per-row codes: the one pass over the rows is the whole cost.
  const KeySpan span = key_span(customer, n);
  std::vector<Acc> acc;
  std::vector<int64_t> key_of;
  if (span.dense && n > 0) {
    // Each part owns a slice of the id range and scans every row, so the
    // table slice it touches is smaller and the parts never share a slot.
    acc.assign(span.range + 1, Acc{INT64_MIN, 0, 0.0});
    const unsigned parts = parts_for(n);
    const uint64_t slice = (span.range + parts) / parts;
    run_parts(parts, [&](unsigned part) {
      const uint64_t from = part * slice, to = from + slice;
      for (size_t i = 0; i < n; ++i) {
        const uint64_t k = static_cast<uint64_t>(customer[i] - span.lo);
        if (k >= from && k < to) add(acc[k], i);
        if (part == 0) cancel.tick();
      }
    });
  } else {
    Groups groups = group_keys(customer, n, cancel);
    acc.assign(groups.size(), Acc{INT64_MIN, 0, 0.0});
    for (size_t i = 0; i < n; ++i) {
      add(acc[groups.code[i]], i);
      cancel.tick();
    }
    key_of = std::move(groups.keys);
  }
  Rfm out;
  int64_t latest = INT64_MIN;
  for (size_t g = 0; g < acc.size(); ++g) {
    if (acc[g].count == 0) continue;
    out.customer.push_back(key_of.empty() ? span.lo + static_cast<int64_t>(g) : key_of[g]);
    out.last.push_back(acc[g].last);
    out.frequency.push_back(acc[g].count);
    out.monetary.push_back(acc[g].sum);
    latest = std::max(latest, acc[g].last);
  }
  out.as_of = as_of ? *as_of : (out.customer.empty() ? 0 : latest + kNsPerDay);
  const size_t m = out.customer.size();
  out.recency.resize(m);
  for (size_t g = 0; g < m; ++g)
    out.recency[g] = static_cast<double>(out.as_of - out.last[g]) / static_cast<double>(kNsPerDay);
  std::vector<double> freq(out.frequency.begin(), out.frequency.end());
  // The three rankings are independent: the recency one on a second thread.
  auto r_scores = std::async(std::launch::async, [&] { return quantile_scores(out.recency.data(), m, bins, false, ties); });
  out.f_score = quantile_scores(freq.data(), m, bins, true, ties);
  out.m_score = quantile_scores(out.monetary.data(), m, bins, true, ties);
  out.r_score = r_scores.get();
  return out;
}

}  // namespace crmcore::scoring
