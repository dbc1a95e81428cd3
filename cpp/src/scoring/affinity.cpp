#include "crmcore/scoring/affinity.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <string>
#include <unordered_map>

#include "crmcore/scoring/group.hpp"

namespace crmcore::scoring {

namespace {

using Bits = std::vector<uint64_t>;

struct Found {
  std::vector<uint32_t> items;  // item codes, ascending
  int64_t count;
};

int64_t and_count(const Bits& a, const Bits& b, Bits& out) {
  int64_t c = 0;
  for (size_t w = 0; w < a.size(); ++w) {
    out[w] = a[w] & b[w];
    c += __builtin_popcountll(out[w]);
  }
  return c;
}

struct Miner {
  int64_t min_count;
  size_t max_len;
  Cancel& cancel;
  std::vector<Found> found;
  std::vector<uint32_t> prefix;

  // Extends the prefix by each candidate in turn; candidates' bitsets are
  // already ANDed with the prefix.
  void extend(const std::vector<uint32_t>& cand, const std::vector<Bits>& bits, const std::vector<int64_t>& count) {
    for (size_t i = 0; i < cand.size(); ++i) {
      prefix.push_back(cand[i]);
      found.push_back({prefix, count[i]});
      if (prefix.size() < max_len) {
        std::vector<uint32_t> next;
        std::vector<Bits> next_bits;
        std::vector<int64_t> next_count;
        Bits tmp(bits[i].size());
        for (size_t j = i + 1; j < cand.size(); ++j) {
          const int64_t c = and_count(bits[i], bits[j], tmp);
          cancel.tick(tmp.size());
          if (c < min_count) continue;
          next.push_back(cand[j]);
          next_bits.push_back(tmp);
          next_count.push_back(c);
        }
        if (!next.empty()) extend(next, next_bits, next_count);
      }
      prefix.pop_back();
    }
  }
};

struct VecHash {
  size_t operator()(const std::vector<uint32_t>& v) const {
    uint64_t h = 1469598103934665603ULL;
    for (uint32_t x : v) h = (h ^ x) * 1099511628211ULL;
    return static_cast<size_t>(h);
  }
};

}  // namespace

Itemsets frequent_itemsets(const int64_t* basket, const int64_t* item, size_t n, double min_support,
                           int max_len, Cancel& cancel) {
  if (!(min_support > 0 && min_support <= 1)) throw std::invalid_argument("min_support must be in (0, 1]");
  const Groups baskets = group_keys(basket, n, cancel);
  const Groups items = group_keys(item, n, cancel);
  Itemsets out;
  out.baskets = static_cast<int64_t>(baskets.size());
  out.offset.push_back(0);
  if (n == 0) return out;
  // The count threshold, with a small tolerance so that support exactly at
  // min_support (0.2 of 10 baskets) is kept despite rounding.
  const int64_t min_count =
      std::max<int64_t>(1, static_cast<int64_t>(std::ceil(min_support * out.baskets - 1e-9)));
  // Baskets per item, each basket once.
  const GroupedRows by_item = rows_by_group(items);
  std::vector<uint32_t> stamp(baskets.size(), UINT32_MAX);
  std::vector<int64_t> support(items.size(), 0);
  for (uint32_t it = 0; it < items.size(); ++it)
    for (size_t r = by_item.start[it]; r < by_item.start[it + 1]; ++r) {
      const uint32_t b = baskets.code[by_item.row[r]];
      if (stamp[b] != it) stamp[b] = it, ++support[it];
    }
  std::vector<uint32_t> frequent;
  for (uint32_t it = 0; it < items.size(); ++it)
    if (support[it] >= min_count) frequent.push_back(it);
  const size_t words = (baskets.size() + 63) / 64;
  std::vector<Bits> bits(frequent.size(), Bits(words, 0));
  std::vector<int64_t> count(frequent.size());
  for (size_t f = 0; f < frequent.size(); ++f) {
    const uint32_t it = frequent[f];
    for (size_t r = by_item.start[it]; r < by_item.start[it + 1]; ++r) {
      const uint32_t b = baskets.code[by_item.row[r]];
      bits[f][b >> 6] |= 1ULL << (b & 63);
    }
    count[f] = support[it];
  }
  Miner miner{min_count, max_len > 0 ? static_cast<size_t>(max_len) : SIZE_MAX, cancel, {}, {}};
  miner.extend(frequent, bits, count);
  std::sort(miner.found.begin(), miner.found.end(), [](const Found& a, const Found& b) {
    return a.items.size() != b.items.size() ? a.items.size() < b.items.size() : a.items < b.items;
  });
  for (const Found& f : miner.found) {
    // Item codes follow ascending item ids, so the itemset is already sorted.
    for (uint32_t c : f.items) out.item.push_back(items.keys[c]);
    out.offset.push_back(out.item.size());
    out.count.push_back(f.count);
  }
  return out;
}

Rules association_rules(const Itemsets& sets, double min_confidence, Cancel& cancel) {
  Rules out;
  out.antecedent_offset.push_back(0);
  out.consequent_offset.push_back(0);
  if (sets.baskets == 0 || min_confidence > 1) return out;  // no rule can pass
  // Itemsets keyed by their items; every subset of a frequent set is frequent
  // (and so present) by the downward closure of support.
  std::unordered_map<std::string, int64_t> count_of;
  auto key_of = [](const int64_t* begin, size_t k) { return std::string(reinterpret_cast<const char*>(begin), k * sizeof(int64_t)); };
  const size_t m = sets.count.size();
  for (size_t s = 0; s < m; ++s)
    count_of.emplace(key_of(sets.item.data() + sets.offset[s], sets.offset[s + 1] - sets.offset[s]), sets.count[s]);
  const double nb = static_cast<double>(sets.baskets);
  std::vector<int64_t> ante, cons;
  for (size_t s = 0; s < m; ++s) {
    const int64_t* items = sets.item.data() + sets.offset[s];
    const size_t k = sets.offset[s + 1] - sets.offset[s];
    if (k < 2) continue;
    if (k > 20) throw std::invalid_argument("an itemset of more than 20 items has too many rules; set max_len");
    const double sup = static_cast<double>(sets.count[s]) / nb;
    for (uint32_t mask = 1; mask + 1 < (1u << k); ++mask) {
      ante.clear();
      cons.clear();
      for (size_t j = 0; j < k; ++j) ((mask >> j) & 1 ? ante : cons).push_back(items[j]);
      const double sa = static_cast<double>(count_of.at(key_of(ante.data(), ante.size()))) / nb;
      const double sc = static_cast<double>(count_of.at(key_of(cons.data(), cons.size()))) / nb;
      const double conf = sup / sa;
      cancel.tick();
      if (conf < min_confidence) continue;
      out.antecedent.insert(out.antecedent.end(), ante.begin(), ante.end());
      out.consequent.insert(out.consequent.end(), cons.begin(), cons.end());
      out.antecedent_offset.push_back(out.antecedent.size());
      out.consequent_offset.push_back(out.consequent.size());
      out.antecedent_support.push_back(sa);
      out.consequent_support.push_back(sc);
      out.support.push_back(sup);
      out.confidence.push_back(conf);
      out.lift.push_back(conf / sc);
    }
  }
  return out;
}

}  // namespace crmcore::scoring
