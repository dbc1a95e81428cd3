#include "crmcore/scoring/rfm.hpp"

#include <algorithm>
#include <cmath>
#include <future>
#include <stdexcept>

#include "crmcore/scoring/group.hpp"

namespace crmcore::scoring {

namespace {

struct Item {
  uint64_t key;  // order-preserving bits of the value
  uint32_t pos;  // ties by position: ascending customer id
  bool operator<(const Item& o) const { return key < o.key || (key == o.key && pos < o.pos); }
};

// The items at the given ranks (ascending) of the (key, pos) order, from a
// histogram of the keys: only the items in the few buckets that hold an edge
// need ordering, and a bucket of one repeated value (a frequency everybody
// shares) is already in order, since items come in position order.
std::vector<Item> edges_by_histogram(const std::vector<Item>& items, const std::vector<size_t>& rank) {
  uint64_t lo = UINT64_MAX, hi = 0;
  for (const Item& it : items) lo = std::min(lo, it.key), hi = std::max(hi, it.key);
  int shift = 0;
  while (((hi - lo) >> shift) >= (1u << 16)) ++shift;
  const size_t buckets = static_cast<size_t>((hi - lo) >> shift) + 1;
  std::vector<uint32_t> start(buckets + 1, 0);
  for (const Item& it : items) ++start[((it.key - lo) >> shift) + 1];
  for (size_t b = 0; b < buckets; ++b) start[b + 1] += start[b];
  // The bucket of each edge; the wanted buckets' items go to cand, bucket by
  // bucket, each at offset[b].
  std::vector<size_t> edge_bucket(rank.size());
  const size_t kUnwanted = SIZE_MAX;
  std::vector<size_t> offset(buckets, kUnwanted);
  for (size_t k = 0; k < rank.size(); ++k) {
    const size_t b = std::upper_bound(start.begin(), start.end(), static_cast<uint32_t>(rank[k])) - start.begin() - 1;
    edge_bucket[k] = b;
    offset[b] = 0;
  }
  size_t total = 0;
  for (size_t b = 0; b < buckets; ++b)
    if (offset[b] != kUnwanted) offset[b] = total, total += start[b + 1] - start[b];
  std::vector<Item> cand(total);
  std::vector<size_t> fill = offset;
  for (const Item& it : items) {
    const size_t b = (it.key - lo) >> shift;
    if (offset[b] != kUnwanted) cand[fill[b]++] = it;
  }
  std::vector<Item> edge(rank.size());
  for (size_t k = 0; k < rank.size(); ++k) {
    const size_t b = edge_bucket[k];
    auto first = cand.begin() + offset[b], last = first + (start[b + 1] - start[b]);
    auto by_key = [](const Item& x, const Item& y) { return x.key < y.key; };
    if (!std::is_sorted(first, last, by_key)) std::stable_sort(first, last, by_key);
    edge[k] = *(first + (rank[k] - start[b]));
  }
  return edge;
}

}  // namespace

std::vector<int8_t> quantile_scores(const double* value, size_t n, int bins, bool higher_is_better,
                                    Ties ties) {
  if (bins < 1 || bins > 100) throw std::invalid_argument("bins must be between 1 and 100");
  std::vector<int8_t> score(n, 1);
  if (n < 2 || bins == 1) return score;
  // Only the bins' edges need the full order: the element at rank p falls in
  // bin max(1, ceil(p * bins / (n-1))), so bin k ends at rank
  // floor(k (n-1) / bins). Find those few edge elements, then score every
  // element by how many edges come before it: O(n), where sorting would be
  // O(n log n).
  std::vector<Item> items(n);
  // NaN (a total with +inf and -inf parts) has no order: it ranks worst, key 0.
  for (size_t i = 0; i < n; ++i)
    items[i] = Item{std::isnan(value[i]) ? 0 : ordered_bits(higher_is_better ? value[i] : -value[i]),
                    static_cast<uint32_t>(i)};
  std::vector<size_t> edge_rank(bins - 1);
  for (int k = 1; k < bins; ++k) edge_rank[k - 1] = static_cast<size_t>(k) * (n - 1) / bins;
  const std::vector<Item> edge = edges_by_histogram(items, edge_rank);
  for (size_t i = 0; i < n; ++i) {
    const Item& it = items[i];
    size_t before;
    if (ties == Ties::First) {
      // Edges strictly before it: the element that ends a bin belongs to it.
      before = std::lower_bound(edge.begin(), edge.end(), it) - edge.begin();
    } else {
      // A run of equal values takes the score of its first member, which
      // comes after exactly the edges of smaller value.
      before = std::lower_bound(edge.begin(), edge.end(), it.key,
                                [](const Item& e, uint64_t key) { return e.key < key; }) -
               edge.begin();
    }
    score[i] = static_cast<int8_t>(1 + before);
  }
  return score;
}

Rfm rfm(const int64_t* customer, const int64_t* date, const double* amount, size_t n,
        std::optional<int64_t> as_of, int bins, Ties ties, Cancel& cancel) {
  // Missing values are caught inside the one pass over the rows rather than
  // by two more passes over 10 million of them.
  auto check = [&](size_t i) {
    if (__builtin_expect(date[i] == kNaT, 0)) throw_missing_time("transactions", i, "date");
    if (__builtin_expect(!std::isfinite(amount[i]), 0)) throw_missing_value("transactions", i, "amount");
  };
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
  std::vector<int64_t> key_of;
  Groups groups;
  if (!span.dense) {
    groups = group_keys(customer, n, cancel);
    key_of = std::move(groups.keys);
  }
  SlotTable<Acc> acc(span.dense ? (n ? span.range + 1 : 0) : key_of.size());
  if (span.dense && n > 0) {
    // Dense ids aggregate straight into a table indexed by id. The table
    // outgrows the CPU caches at about a million customers, so the slot of a
    // row a little ahead is prefetched while this one is added. (Partitioning
    // the rows by id block first measured slower.)
    constexpr size_t kAhead = 32;
    const int64_t lo = span.lo;
    for (size_t i = 0; i < n; ++i) {
      if (i + kAhead < n) __builtin_prefetch(&acc[static_cast<uint64_t>(customer[i + kAhead] - lo)], 1, 1);
      check(i);
      if (date[i] <= cutoff) acc[static_cast<uint64_t>(customer[i] - lo)].add(date[i], amount[i]);
      cancel.tick();
    }
  } else {
    for (size_t i = 0; i < n; ++i) {
      check(i);
      if (date[i] <= cutoff) acc[groups.code[i]].add(date[i], amount[i]);
      cancel.tick();
    }
  }
  Rfm out;
  size_t active = 0;
  for (size_t g = 0; g < acc.size(); ++g) active += acc[g].count > 0;
  out.customer.reserve(active);
  out.last.reserve(active);
  out.frequency.reserve(active);
  out.monetary.reserve(active);
  int64_t latest = INT64_MIN;
  for (size_t g = 0; g < acc.size(); ++g) {
    if (acc[g].count == 0) continue;
    out.customer.push_back(key_of.empty() ? span.lo + static_cast<int64_t>(g) : key_of[g]);
    out.last.push_back(acc[g].last);
    out.frequency.push_back(acc[g].count);
    out.monetary.push_back(acc[g].sum.sum);
    latest = std::max(latest, acc[g].last);
  }
  // By default the end of the data: midnight after the latest purchase, so the
  // last day counts in full (the same point every analysis defaults to).
  out.as_of = as_of ? *as_of : (out.customer.empty() ? 0 : latest - ((latest % kNsPerDay) + kNsPerDay) % kNsPerDay + kNsPerDay);
  const size_t m = out.customer.size();
  out.recency.resize(m);
  for (size_t g = 0; g < m; ++g)
    out.recency[g] = days_between(out.as_of, out.last[g]);
  std::vector<double> freq(out.frequency.begin(), out.frequency.end());
  // The three rankings are independent: the recency one on a second thread.
  auto r_scores = std::async(std::launch::async, [&] { return quantile_scores(out.recency.data(), m, bins, false, ties); });
  out.f_score = quantile_scores(freq.data(), m, bins, true, ties);
  out.m_score = quantile_scores(out.monetary.data(), m, bins, true, ties);
  out.r_score = r_scores.get();
  return out;
}

}  // namespace crmcore::scoring
