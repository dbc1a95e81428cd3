#include <algorithm>
#include <limits>
#include <utility>

#include "ids.hpp"

namespace crmcore::sales {

PairGroups group_pairs(const int64_t* a, const int64_t* b, const uint8_t* keep, size_t n) {
  PairGroups out;
  out.code.assign(n, -1);
  int64_t alo = std::numeric_limits<int64_t>::max(), ahi = std::numeric_limits<int64_t>::min();
  int64_t blo = alo, bhi = ahi;
  size_t kept = 0;
  for (size_t i = 0; i < n; ++i) {
    if (!keep[i]) continue;
    ++kept;
    alo = std::min(alo, a[i]), ahi = std::max(ahi, a[i]);
    blo = std::min(blo, b[i]), bhi = std::max(bhi, b[i]);
  }
  if (kept == 0) return out;
  const uint64_t aspan = static_cast<uint64_t>(ahi) - static_cast<uint64_t>(alo) + 1;
  const uint64_t bspan = static_cast<uint64_t>(bhi) - static_cast<uint64_t>(blo) + 1;
  const uint64_t limit = 4 * static_cast<uint64_t>(n) + (1u << 20);
  if (aspan <= limit && bspan <= limit && aspan * bspan <= limit) {
    // Mark the cells in use, number them in grid order (which is (a, b)
    // order), then read each item's number.
    std::vector<int64_t> cell(static_cast<size_t>(aspan * bspan), -1);
    auto at = [&](size_t i) {
      return static_cast<size_t>(static_cast<uint64_t>(a[i] - alo) * bspan + static_cast<uint64_t>(b[i] - blo));
    };
    for (size_t i = 0; i < n; ++i)
      if (keep[i]) cell[at(i)] = 0;
    int64_t next = 0;
    for (size_t c = 0; c < cell.size(); ++c) {
      if (cell[c] < 0) continue;
      cell[c] = next++;
      out.group_a.push_back(alo + static_cast<int64_t>(c / bspan));
      out.group_b.push_back(blo + static_cast<int64_t>(c % bspan));
    }
    for (size_t i = 0; i < n; ++i)
      if (keep[i]) out.code[i] = cell[at(i)];
    return out;
  }
  std::vector<std::pair<std::pair<int64_t, int64_t>, size_t>> items;
  items.reserve(kept);
  for (size_t i = 0; i < n; ++i)
    if (keep[i]) items.push_back({{a[i], b[i]}, i});
  std::sort(items.begin(), items.end());
  for (size_t j = 0; j < items.size(); ++j) {
    if (j == 0 || items[j].first != items[j - 1].first) {
      out.group_a.push_back(items[j].first.first);
      out.group_b.push_back(items[j].first.second);
    }
    out.code[items[j].second] = static_cast<int64_t>(out.group_a.size()) - 1;
  }
  return out;
}

}  // namespace crmcore::sales

#include <cstring>

#include "crmcore/sales/codes.hpp"

namespace crmcore::sales {

namespace {

uint64_t fnv1a(const char* text, size_t size) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < size; ++i) h = (h ^ static_cast<uint8_t>(text[i])) * 1099511628211ull;
  return h;
}

}  // namespace

template <typename Offset>
std::vector<int32_t> code_texts(const Offset* offsets, const char* data, const uint8_t* validity, size_t first,
                                size_t n, const std::vector<std::string>& allowed) {
  std::vector<int32_t> out(n, -1);
  const auto count = static_cast<int32_t>(allowed.size());
  if (count == 0) return out;
  auto same = [&](const char* text, size_t size, int32_t k) {
    const std::string& a = allowed[static_cast<size_t>(k)];
    return a.size() == size && std::memcmp(a.data(), text, size) == 0;
  };
  // A few values (statuses): the last match first, then the others in turn.
  // More (teams, regions): an open-addressing table, one hash per row.
  std::vector<int32_t> slots;
  size_t mask = 0;
  if (count > 4) {
    size_t size = 16;
    while (size < 4 * allowed.size()) size *= 2;
    slots.assign(size, -1), mask = size - 1;
    for (int32_t k = count; k-- > 0;) {  // the first of repeated values wins, as in a linear search
      size_t at = fnv1a(allowed[static_cast<size_t>(k)].data(), allowed[static_cast<size_t>(k)].size()) & mask;
      while (slots[at] >= 0 && allowed[static_cast<size_t>(slots[at])] != allowed[static_cast<size_t>(k)])
        at = (at + 1) & mask;
      slots[at] = k;
    }
  }
  int32_t hint = 0;
  for (size_t i = 0; i < n; ++i) {
    const size_t row = first + i;
    if (validity && !((validity[row >> 3] >> (row & 7)) & 1)) continue;
    const char* text = data + offsets[row];
    const auto size = static_cast<size_t>(offsets[row + 1] - offsets[row]);
    if (!slots.empty()) {
      for (size_t at = fnv1a(text, size) & mask; slots[at] >= 0; at = (at + 1) & mask)
        if (same(text, size, slots[at])) {
          out[i] = slots[at];
          break;
        }
      continue;
    }
    if (same(text, size, hint)) {
      out[i] = hint;
      continue;
    }
    for (int32_t k = 0; k < count; ++k)
      if (k != hint && same(text, size, k)) {
        out[i] = hint = k;
        break;
      }
  }
  return out;
}

std::vector<int64_t> id_positions(const int64_t* ids, size_t n, const int64_t* values, size_t m) {
  const IdIndex index(ids, n);
  std::vector<int64_t> out(m);
  for (size_t i = 0; i < m; ++i) out[i] = index.find(values[i]);
  return out;
}

template std::vector<int32_t> code_texts<int32_t>(const int32_t*, const char*, const uint8_t*, size_t, size_t,
                                                  const std::vector<std::string>&);
template std::vector<int32_t> code_texts<int64_t>(const int64_t*, const char*, const uint8_t*, size_t, size_t,
                                                  const std::vector<std::string>&);

}  // namespace crmcore::sales
