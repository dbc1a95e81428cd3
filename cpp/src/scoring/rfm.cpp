#include "crmcore/scoring/rfm.hpp"

#include <algorithm>
#include <future>
#include <stdexcept>

#include "crmcore/scoring/group.hpp"

namespace crmcore::scoring {

std::vector<int8_t> quantile_scores(const double* value, size_t n, int bins, bool higher_is_better,
                                    Ties ties) {
  if (bins < 1 || bins > 100) throw std::invalid_argument("bins must be between 1 and 100");
  // Only the bins' edges need the full order: the element at rank p falls in
  // bin max(1, ceil(p * bins / (n-1))), so bin k ends at rank
  // floor(k (n-1) / bins). Selecting those few edge elements (in (value,
  // position) order) and comparing every element with them is O(n log bins),
  // where sorting would be O(n log n).
  struct Item {
    double good;
    uint32_t pos;
    bool operator<(const Item& o) const { return good < o.good || (good == o.good && pos < o.pos); }
  };
  std::vector<Item> items(n);
  for (size_t i = 0; i < n; ++i) items[i] = Item{(higher_is_better ? value[i] : -value[i]) + 0.0, uint32_t(i)};
  std::vector<int8_t> score(n, 1);
  if (n < 2 || bins == 1) return score;
  std::vector<size_t> edge_rank(bins - 1);
  for (int k = 1; k < bins; ++k) edge_rank[k - 1] = static_cast<size_t>(k) * (n - 1) / bins;
  std::vector<Item> work = items;
  // Select the middle edge, then the edges of each half within that half.
  struct Span {
    size_t lo, hi;        // range of work[] known to hold ranks lo..hi-1
    size_t e_lo, e_hi;    // edges still to place: edge_rank[e_lo..e_hi)
  };
  std::vector<Span> todo{{0, n, 0, edge_rank.size()}};
  std::vector<Item> edge(edge_rank.size());
  while (!todo.empty()) {
    Span s = todo.back();
    todo.pop_back();
    if (s.e_lo >= s.e_hi) continue;
    const size_t mid = (s.e_lo + s.e_hi) / 2, r = edge_rank[mid];
    // With fewer elements than bins, ranks repeat; a rank outside the span
    // was selected already and sits in place.
    if (r >= s.lo && r < s.hi) std::nth_element(work.begin() + s.lo, work.begin() + r, work.begin() + s.hi);
    edge[mid] = work[r];
    todo.push_back({s.lo, std::max(s.lo, std::min(r, s.hi)), s.e_lo, mid});
    todo.push_back({std::min(s.hi, std::max(r + 1, s.lo)), s.hi, mid + 1, s.e_hi});
  }
  for (size_t i = 0; i < n; ++i) {
    // Score = 1 + the number of bins that end before this element.
    const Item& it = items[i];
    size_t above = 0;
    if (ties == Ties::First) {
      // Edges strictly before it: the element that ends a bin belongs to it.
      above = std::lower_bound(edge.begin(), edge.end(), it) - edge.begin();
    } else {
      // A run of equal values takes the score of its first member, which
      // lies after exactly the edges of smaller value.
      above = std::lower_bound(edge.begin(), edge.end(), it.good,
                               [](const Item& a, double g) { return a.good < g; }) -
              edge.begin();
    }
    score[i] = static_cast<int8_t>(1 + above);
  }
  return score;
}

Rfm rfm(const int64_t* customer, const int64_t* date, const double* amount, size_t n,
        std::optional<int64_t> as_of, int bins, Ties ties, Cancel& cancel) {
  require_times(date, n, "transactions", "date");
  require_finite(amount, n, "transactions", "amount");
  // One record per customer keeps the three running values on one cache line.
  struct Acc {
    int64_t last = INT64_MIN;
    int64_t count = 0;
    KahanSum sum;
    void add(int64_t d, double a) {
      last = std::max(last, d);
      ++count;
      sum.add(a);
    }
  };
  const int64_t cutoff = as_of ? *as_of : INT64_MAX;
  const KeySpan span = key_span(customer, n);
  std::vector<Acc> acc;
  std::vector<int64_t> key_of;
  if (span.dense && n > 0) {
    // Dense ids aggregate straight into a table indexed by id. The table
    // outgrows the CPU caches at about a million customers, so the slot of a
    // row a little ahead is prefetched while this one is added. (Partitioning
    // the rows by id block first measured slower.)
    acc.assign(span.range + 1, Acc{});
    constexpr size_t kAhead = 32;
    const int64_t lo = span.lo;
    for (size_t i = 0; i < n; ++i) {
      if (i + kAhead < n) __builtin_prefetch(&acc[static_cast<uint64_t>(customer[i + kAhead] - lo)], 1, 1);
      if (date[i] <= cutoff) acc[static_cast<uint64_t>(customer[i] - lo)].add(date[i], amount[i]);
      cancel.tick();
    }
  } else {
    Groups groups = group_keys(customer, n, cancel);
    acc.assign(groups.size(), Acc{});
    for (size_t i = 0; i < n; ++i) {
      if (date[i] <= cutoff) acc[groups.code[i]].add(date[i], amount[i]);
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
    out.monetary.push_back(acc[g].sum.sum);
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
