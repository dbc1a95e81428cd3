#include "crmcore/scoring/group.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#if defined(__linux__)
#include <sys/mman.h>
#endif
#include <numeric>
#include <string>

#include "crmcore/errors.hpp"

namespace crmcore::scoring {

namespace {

constexpr uint32_t kEmpty = UINT32_MAX;

// LSD radix sort of (key, payload); digits on which all keys agree are
// skipped, so small ids cost one or two passes.
void radix_sort_u64(std::vector<uint64_t>& key, std::vector<uint32_t>& payload) {
  const size_t n = key.size();
  if (n < 2) return;
  if (n < 2048) {
    std::vector<uint32_t> idx(n);
    std::iota(idx.begin(), idx.end(), 0u);
    std::stable_sort(idx.begin(), idx.end(), [&](uint32_t a, uint32_t b) { return key[a] < key[b]; });
    std::vector<uint64_t> k2(n);
    std::vector<uint32_t> p2(n);
    for (size_t i = 0; i < n; ++i) k2[i] = key[idx[i]], p2[i] = payload[idx[i]];
    key.swap(k2);
    payload.swap(p2);
    return;
  }
  // 11-bit digits: 2048 buckets keep the scatter targets in cache; one pass
  // over the keys builds all six histograms.
  constexpr int kBits = 11, kPasses = 6;
  constexpr size_t kBuckets = size_t(1) << kBits;
  std::vector<uint32_t> hist(kPasses * kBuckets, 0);
  for (size_t i = 0; i < n; ++i)
    for (int p = 0; p < kPasses; ++p) ++hist[p * kBuckets + ((key[i] >> (p * kBits)) & (kBuckets - 1))];
  std::vector<uint64_t> k2(n);
  std::vector<uint32_t> p2(n);
  for (int p = 0; p < kPasses; ++p) {
    uint32_t* count = hist.data() + p * kBuckets;
    const int shift = p * kBits;
    if (count[(key[0] >> shift) & (kBuckets - 1)] == n) continue;
    uint32_t sum = 0;
    for (size_t b = 0; b < kBuckets; ++b) {
      uint32_t t = count[b];
      count[b] = sum;
      sum += t;
    }
    for (size_t i = 0; i < n; ++i) {
      const uint32_t at = count[(key[i] >> shift) & (kBuckets - 1)]++;
      k2[at] = key[i];
      p2[at] = payload[i];
    }
    key.swap(k2);
    payload.swap(p2);
  }
}

inline uint64_t mix(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  return x;
}

Groups group_dense(const int64_t* key, size_t n, int64_t lo, uint64_t range, Cancel& cancel) {
  std::vector<uint32_t> slot(range + 1, kEmpty);
  for (size_t i = 0; i < n; ++i) slot[static_cast<uint64_t>(key[i] - lo)] = 0;
  Groups g;
  uint32_t next = 0;
  for (uint64_t v = 0; v <= range; ++v) {
    if (slot[v] == kEmpty) continue;
    slot[v] = next++;
    g.keys.push_back(lo + static_cast<int64_t>(v));
  }
  g.code.resize(n);
  for (size_t i = 0; i < n; ++i) {
    g.code[i] = slot[static_cast<uint64_t>(key[i] - lo)];
    cancel.tick();
  }
  return g;
}

Groups group_hashed(const int64_t* key, size_t n, Cancel& cancel) {
  size_t cap = 1024;
  std::vector<int64_t> tkey(cap);
  std::vector<uint32_t> tcode(cap, kEmpty);
  std::vector<int64_t> first_seen;  // keys in order of first appearance
  Groups g;
  g.code.resize(n);
  auto grow = [&] {
    cap *= 2;
    std::vector<int64_t> nk(cap);
    std::vector<uint32_t> nc(cap, kEmpty);
    for (uint32_t c = 0; c < first_seen.size(); ++c) {
      size_t h = mix(static_cast<uint64_t>(first_seen[c])) & (cap - 1);
      while (nc[h] != kEmpty) h = (h + 1) & (cap - 1);
      nk[h] = first_seen[c];
      nc[h] = c;
    }
    tkey.swap(nk);
    tcode.swap(nc);
  };
  for (size_t i = 0; i < n; ++i) {
    const int64_t k = key[i];
    size_t h = mix(static_cast<uint64_t>(k)) & (cap - 1);
    while (tcode[h] != kEmpty && tkey[h] != k) h = (h + 1) & (cap - 1);
    if (tcode[h] != kEmpty) {
      g.code[i] = tcode[h];
    } else {
      tcode[h] = static_cast<uint32_t>(first_seen.size());
      tkey[h] = k;
      g.code[i] = tcode[h];
      first_seen.push_back(k);
      if (first_seen.size() * 2 > cap) grow();
    }
    cancel.tick();
  }
  // Renumber the codes in ascending key order.
  std::vector<uint64_t> sk(first_seen.size());
  std::vector<uint32_t> perm(first_seen.size());
  for (size_t c = 0; c < first_seen.size(); ++c) sk[c] = ordered_bits(first_seen[c]), perm[c] = uint32_t(c);
  radix_sort_u64(sk, perm);
  std::vector<uint32_t> rank(first_seen.size());
  g.keys.resize(first_seen.size());
  for (size_t r = 0; r < perm.size(); ++r) {
    rank[perm[r]] = static_cast<uint32_t>(r);
    g.keys[r] = first_seen[perm[r]];
  }
  for (size_t i = 0; i < n; ++i) g.code[i] = rank[g.code[i]];
  return g;
}

}  // namespace

KeySpan key_span(const int64_t* key, size_t n) {
  if (n >= UINT32_MAX) throw std::invalid_argument("more than 4 billion rows");
  KeySpan s;
  if (n == 0) return s;
  int64_t lo = key[0], hi = key[0];
  for (size_t i = 1; i < n; ++i) lo = std::min(lo, key[i]), hi = std::max(hi, key[i]);
  s.lo = lo;
  s.range = static_cast<uint64_t>(hi) - static_cast<uint64_t>(lo);
  s.dense = s.range <= 4 * static_cast<uint64_t>(n) + 4096;
  return s;
}

Groups group_keys(const int64_t* key, size_t n, Cancel& cancel) {
  const KeySpan span = key_span(key, n);
  if (n == 0) return {};
  if (span.dense) return group_dense(key, n, span.lo, span.range, cancel);
  return group_hashed(key, n, cancel);
}

GroupedRows rows_by_group(const Groups& groups) {
  GroupedRows out;
  out.start.assign(groups.size() + 1, 0);
  for (uint32_t c : groups.code) ++out.start[c + 1];
  for (size_t g = 0; g < groups.size(); ++g) out.start[g + 1] += out.start[g];
  std::vector<size_t> fill(out.start.begin(), out.start.end() - 1);
  out.row.resize(groups.code.size());
  for (size_t i = 0; i < groups.code.size(); ++i) out.row[fill[groups.code[i]]++] = static_cast<uint32_t>(i);
  return out;
}

std::vector<uint32_t> stable_argsort(const double* value, size_t n) {
  std::vector<uint64_t> key(n);
  std::vector<uint32_t> idx(n);
  for (size_t i = 0; i < n; ++i) key[i] = ordered_bits(value[i]), idx[i] = static_cast<uint32_t>(i);
  radix_sort_u64(key, idx);
  return idx;
}

void advise_huge_pages(void* p, size_t bytes) {
#ifdef MADV_HUGEPAGE
  madvise(p, bytes, MADV_HUGEPAGE);  // advice only: failure just means small pages
#else
  (void)p, (void)bytes;
#endif
}

void throw_missing_value(const char* kind, size_t row, const char* field) {
  throw ValidationError(kind, static_cast<int64_t>(row), field, "is missing or not finite");
}

void throw_missing_time(const char* kind, size_t row, const char* field) {
  throw ValidationError(kind, static_cast<int64_t>(row), field, "is missing (NaT)");
}

void require_finite(const double* value, size_t n, const char* kind, const char* field) {
  for (size_t i = 0; i < n; ++i)
    if (!std::isfinite(value[i])) throw_missing_value(kind, i, field);
}

void require_times(const int64_t* ns, size_t n, const char* kind, const char* field) {
  for (size_t i = 0; i < n; ++i)
    if (ns[i] == kNaT) throw_missing_time(kind, i, field);
}

}  // namespace crmcore::scoring
