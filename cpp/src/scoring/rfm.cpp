#include "crmcore/scoring/rfm.hpp"

#include <algorithm>
#include <cstring>
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

// The items at the given ranks (ascending) of the (key, pos) order, by
// repeated selection: the middle edge first, then each half's edges.
std::vector<Item> edges_by_selection(std::vector<Item> work, const std::vector<size_t>& rank) {
  struct Span {
    size_t lo, hi;      // work[lo, hi) holds exactly the ranks lo..hi-1
    size_t e_lo, e_hi;  // edges still to place: rank[e_lo..e_hi)
  };
  std::vector<Item> edge(rank.size());
  std::vector<Span> todo{{0, work.size(), 0, rank.size()}};
  while (!todo.empty()) {
    Span s = todo.back();
    todo.pop_back();
    if (s.e_lo >= s.e_hi) continue;
    const size_t mid = (s.e_lo + s.e_hi) / 2, r = rank[mid];
    // With fewer elements than bins, ranks repeat; a rank outside the span
    // was selected already and sits in place.
    if (r >= s.lo && r < s.hi) std::nth_element(work.begin() + s.lo, work.begin() + r, work.begin() + s.hi);
    edge[mid] = work[r];
    todo.push_back({s.lo, std::max(s.lo, std::min(r, s.hi)), s.e_lo, mid});
    todo.push_back({std::min(s.hi, std::max(r + 1, s.lo)), s.hi, mid + 1, s.e_hi});
  }
  return edge;
}

// The same edges from a histogram of the keys: only the items in the buckets
// that hold an edge need ordering. Falls back to selection when the values
// crowd into those few buckets.
std::vector<Item> edges_by_histogram(const std::vector<Item>& items, const std::vector<size_t>& rank) {
  const size_t n = items.size();
  uint64_t lo = UINT64_MAX, hi = 0;
  for (const Item& it : items) lo = std::min(lo, it.key), hi = std::max(hi, it.key);
  int shift = 0;
  while (((hi - lo) >> shift) >= (1u << 16)) ++shift;
  const size_t buckets = static_cast<size_t>((hi - lo) >> shift) + 1;
  std::vector<uint32_t> start(buckets + 1, 0);
  for (const Item& it : items) ++start[((it.key - lo) >> shift) + 1];
  for (size_t b = 0; b < buckets; ++b) start[b + 1] += start[b];
  // The bucket of each edge, and how many items those buckets hold.
  std::vector<size_t> edge_bucket(rank.size());
  std::vector<char> wanted(buckets, 0);
  size_t candidates = 0;
  for (size_t k = 0; k < rank.size(); ++k) {
    const size_t b = std::upper_bound(start.begin(), start.end(), static_cast<uint32_t>(rank[k])) - start.begin() - 1;
    edge_bucket[k] = b;
    if (!wanted[b]) wanted[b] = 1, candidates += start[b + 1] - start[b];
  }
  if (candidates > n / 4) return edges_by_selection(items, rank);
  std::vector<Item> cand;
  cand.reserve(candidates);
  for (const Item& it : items)
    if (wanted[(it.key - lo) >> shift]) cand.push_back(it);
  std::sort(cand.begin(), cand.end());
  // cand holds whole buckets in key order: a bucket's first candidate sits
  // after all candidates of earlier wanted buckets.
  std::vector<size_t> offset(buckets, 0);
  size_t seen = 0;
  for (size_t b = 0; b < buckets; ++b)
    if (wanted[b]) offset[b] = seen, seen += start[b + 1] - start[b];
  std::vector<Item> edge(rank.size());
  for (size_t k = 0; k < rank.size(); ++k) {
    const size_t b = edge_bucket[k];
    edge[k] = cand[offset[b] + (rank[k] - start[b])];
  }
  return edge;
}

inline uint64_t order_bits(double v) {
  v += 0.0;  // -0.0 and 0.0 are equal values and must tie
  uint64_t u;
  std::memcpy(&u, &v, sizeof u);
  return (u & (1ULL << 63)) ? ~u : (u | (1ULL << 63));
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
  for (size_t i = 0; i < n; ++i)
    items[i] = Item{order_bits(higher_is_better ? value[i] : -value[i]), static_cast<uint32_t>(i)};
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
      if (date[i] <= cutoff) acc[static_cast<uint64_t>(customer[i] - lo)].add(date[i], amount[i]);
      cancel.tick();
    }
  } else {
    for (size_t i = 0; i < n; ++i) {
      if (date[i] <= cutoff) acc[groups.code[i]].add(date[i], amount[i]);
      cancel.tick();
    }
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
