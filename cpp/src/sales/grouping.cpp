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


// A text of up to 16 bytes as its size and two words that hold every byte
// (overlapping loads of fixed size: no call to memcmp per row, which cost
// more than the rest of the coding). Longer texts are compared in full.
constexpr size_t kShort = 16;
struct Words {
  uint64_t a = 0, b = 0, size = 0;
  // One test, no jumps: a compiler turns && into a branch per word.
  bool operator==(const Words& o) const { return ((a ^ o.a) | (b ^ o.b) | (size ^ o.size)) == 0; }
};

Words words_of(const char* p, size_t n) {
  Words w;
  w.size = n;
  if (n >= 8) {
    std::memcpy(&w.a, p, 8), std::memcpy(&w.b, p + n - 8, 8);
  } else if (n >= 4) {
    uint32_t x, y;
    std::memcpy(&x, p, 4), std::memcpy(&y, p + n - 4, 4);
    w.a = x, w.b = y;
  } else if (n > 0) {
    w.a = static_cast<uint64_t>(static_cast<uint8_t>(p[0])) | static_cast<uint64_t>(static_cast<uint8_t>(p[n / 2])) << 8 |
          static_cast<uint64_t>(static_cast<uint8_t>(p[n - 1])) << 16;
  }
  return w;
}

uint64_t hash_of(const Words& w) {
  uint64_t h = (w.a ^ (w.b * 0x9E3779B97F4A7C15ull) ^ w.size) * 0xBF58476D1CE4E5B9ull;
  return h ^ (h >> 31);
}

// The slot of a text in a table of 2^bits: multiply-shift with `seed`.
size_t slot_of(const Words& w, uint64_t seed, int bits) {
  return static_cast<size_t>(((w.a ^ (w.b * 0x9E3779B97F4A7C15ull) ^ (w.size << 56)) * seed) >> (64 - bits));
}

// A table where every allowed short text has a slot of its own (a
// collision-free seed found by trying a few): a row is then one hash, one
// load and one comparison, whatever the number of values, where comparing
// with each value in turn cost a loop per row. Empty when no seed is found
// within a few tries (the caller falls back).
struct Perfect {
  std::vector<Words> word;
  std::vector<int32_t> code;
  uint64_t seed = 0;
  int bits = 0;
};

Perfect perfect_table(const std::vector<Words>& word, const std::vector<std::string>& allowed) {
  Perfect t;
  int bits = 4;
  while ((size_t{1} << bits) < 8 * allowed.size()) ++bits;
  uint64_t seed = 0x9E3779B97F4A7C15ull;
  for (int attempt = 0; attempt < 32; ++attempt, seed = seed * 6364136223846793005ull + 1442695040888963407ull) {
    const uint64_t odd = seed | 1;
    std::vector<Words> slots(size_t{1} << bits, Words{0, 0, ~uint64_t{0}});  // size ~0 matches no text
    std::vector<int32_t> codes(size_t{1} << bits, -1);
    bool clash = false;
    for (size_t k = 0; k < allowed.size() && !clash; ++k) {
      if (allowed[k].size() > kShort) continue;
      const size_t at = slot_of(word[k], odd, bits);
      if (codes[at] < 0) slots[at] = word[k], codes[at] = static_cast<int32_t>(k);
      else clash = !(slots[at] == word[k]);  // a repeated value keeps its first code
    }
    if (!clash) {
      t.word = std::move(slots), t.code = std::move(codes), t.seed = odd, t.bits = bits;
      return t;
    }
  }
  return t;
}

// The allowed values when every one is at most 8 bytes and no length has
// more than kPerLength of them (statuses, short stage names; two, as each
// place costs instructions on every row: four places took 3.1 ms on a
// million statuses where two took 2.0): a row is then
// coded by its length first and compared as one word with those few of
// that length, without a branch. A table per length 0..8 and one (no
// value) for longer texts; an unused place has code -1, so that a match
// on it is no match.
constexpr size_t kWord = 8, kPerLength = 2;
struct ByLength {
  uint64_t word[kWord + 2][kPerLength] = {};
  int32_t code[kWord + 2][kPerLength];
  bool usable = false;
};

ByLength by_length(const std::vector<std::string>& allowed) {
  ByLength t;
  for (auto& codes : t.code) std::fill(std::begin(codes), std::end(codes), -1);
  size_t used[kWord + 2] = {};
  for (size_t k = 0; k < allowed.size(); ++k) {
    const std::string& a = allowed[k];
    if (a.size() > kWord) return t;
    uint64_t w = 0;
    std::memcpy(&w, a.data(), a.size());
    bool repeated = false;  // a repeated value keeps its first code
    for (size_t j = 0; j < used[a.size()]; ++j) repeated |= t.word[a.size()][j] == w;
    if (repeated) continue;
    if (used[a.size()] == kPerLength) return t;
    t.word[a.size()][used[a.size()]] = w, t.code[a.size()][used[a.size()]++] = static_cast<int32_t>(k);
  }
  t.usable = true;
  return t;
}

// code_texts with a ByLength table. A row's bytes are read as one 8-byte
// word and masked to its length while 8 bytes from its start lie before the
// end of the rows' text (the last few rows are copied byte by byte). 2.9 to
// 2.0 ms on a million statuses of three values (CPU, load 6): the general
// path spent a hash, a three-word comparison and spilled registers per row.
// The bytes of a text near the end of the data (fewer than 8 left), as a
// word: copied one by one.
uint64_t last_word(const char* text, size_t len) {
  uint64_t w = 0;
  std::memcpy(&w, text, len);
  return w;
}

// The order of the offsets is checked here, on the way (`down`: a row whose
// end is before its start; 0.6 ms of 2.4 at 1M rows was a pass of its own
// for it): every read is kept within [0, end) whatever the offsets between
// the first and the last, and the caller refuses the column when one went
// down.
template <typename Offset>
bool code_by_length(const ByLength& t, const Offset* offsets, const char* data, const uint8_t* validity,
                    size_t first, size_t n, int32_t* out) {
  uint64_t mask[kWord + 2];
  for (size_t len = 0; len <= kWord + 1; ++len) mask[len] = len >= kWord ? ~uint64_t{0} : (uint64_t{1} << (8 * len)) - 1;
  const auto end = static_cast<uint64_t>(offsets[first + n]);
  bool down = false;
  for (size_t i = 0; i < n; ++i) {
    const size_t row = first + i;
    down |= offsets[row + 1] < offsets[row];
    const uint64_t at = std::min(static_cast<uint64_t>(offsets[row]), end);  // a negative offset is huge: end
    const size_t len = std::min<size_t>(static_cast<size_t>(offsets[row + 1] - offsets[row]), kWord + 1);
    uint64_t w;
    if (at + kWord <= end) std::memcpy(&w, data + at, kWord);
    else w = last_word(data + at, std::min<size_t>(std::min(len, kWord), static_cast<size_t>(end - at)));
    w &= mask[len];
    // At most one place of a length matches (the words differ), and an
    // unused place adds 0: the code as a sum of products, which the compiler
    // keeps free of jumps (it made `match ? code : other` a jump per place).
    int32_t code = -1;
    for (size_t j = 0; j < kPerLength; ++j) code += static_cast<int32_t>(w == t.word[len][j]) * (t.code[len][j] + 1);
    if (validity) code = (code + 1) * static_cast<int32_t>((validity[row >> 3] >> (row & 7)) & 1) - 1;
    out[i] = code;
  }
  return down;
}

}  // namespace

template <typename Offset>
size_t code_texts(const Offset* offsets, const char* data, const uint8_t* validity, size_t first, size_t n,
                  const std::vector<std::string>& allowed, int32_t* out) {
  if (const ByLength t = by_length(allowed); t.usable) {
    if (!code_by_length(t, offsets, data, validity, first, n, out)) return n;  // writes every row
  }
  // The rows are read below only once the offsets are known not to go down.
  for (size_t i = 0; i < n; ++i)
    if (offsets[first + i + 1] < offsets[first + i]) return i;
  std::fill(out, out + n, -1);  // the rows below skip nulls and texts matching nothing
  const auto count = static_cast<int32_t>(allowed.size());
  if (count == 0) return n;
  std::vector<Words> word(allowed.size());
  for (size_t k = 0; k < allowed.size(); ++k)
    if (allowed[k].size() <= kShort) word[k] = words_of(allowed[k].data(), allowed[k].size());
    else word[k].size = ~uint64_t{0};  // matches no short text
  // The code of a text longer than kShort: compared in full (rare for a
  // status, a stage or a team).
  auto long_code = [&](const char* text, size_t size) {
    for (int32_t k = 0; k < count; ++k) {
      const std::string& a = allowed[static_cast<size_t>(k)];
      if (a.size() == size && std::memcmp(a.data(), text, size) == 0) return k;
    }
    return int32_t{-1};
  };
  // A table with a slot per value when one is found (perfect_table);
  // otherwise a few values (statuses, stages) each compared in turn without
  // a branch on the outcome, so a column mixing them in random order costs
  // no mispredicted jumps, and more (teams, regions) an open-addressing table.
  const Perfect perfect = perfect_table(word, allowed);
  constexpr int32_t kFew = 8;
  std::vector<int32_t> slots;
  size_t mask = 0;
  if (perfect.code.empty() && count > kFew) {
    size_t size = 16;
    while (size < 4 * allowed.size()) size *= 2;
    slots.assign(size, -1), mask = size - 1;
    for (int32_t k = count; k-- > 0;) {  // the first of repeated values wins, as in a linear search
      const std::string& a = allowed[static_cast<size_t>(k)];
      if (a.size() > kShort) continue;
      size_t at = hash_of(word[static_cast<size_t>(k)]) & mask;
      while (slots[at] >= 0 && !(word[static_cast<size_t>(slots[at])] == word[static_cast<size_t>(k)]))
        at = (at + 1) & mask;
      slots[at] = k;
    }
  }
  for (size_t i = 0; i < n; ++i) {
    const size_t row = first + i;
    if (validity && !((validity[row >> 3] >> (row & 7)) & 1)) continue;
    const char* text = data + offsets[row];
    const auto size = static_cast<size_t>(offsets[row + 1] - offsets[row]);
    if (size > kShort) {
      out[i] = long_code(text, size);
      continue;
    }
    const Words w = words_of(text, size);
    if (!perfect.code.empty()) {
      const size_t at = slot_of(w, perfect.seed, perfect.bits);
      out[i] = perfect.word[at] == w ? perfect.code[at] : -1;
      continue;
    }
    int32_t code = -1;
    if (slots.empty()) {
      for (int32_t k = count; k-- > 0;)  // downwards: the first of repeated values wins
        code = word[static_cast<size_t>(k)] == w ? k : code;
    } else {
      for (size_t at = hash_of(w) & mask; slots[at] >= 0; at = (at + 1) & mask)
        if (word[static_cast<size_t>(slots[at])] == w) {
          code = slots[at];
          break;
        }
    }
    out[i] = code;
  }
  return n;
}

std::vector<int64_t> id_positions(const int64_t* ids, size_t n, const int64_t* values, size_t m) {
  const IdIndex index(ids, n);
  std::vector<int64_t> out(m);
  for (size_t i = 0; i < m; ++i) out[i] = index.find(values[i]);
  return out;
}

template size_t code_texts<int32_t>(const int32_t*, const char*, const uint8_t*, size_t, size_t,
                                    const std::vector<std::string>&, int32_t*);
template size_t code_texts<int64_t>(const int64_t*, const char*, const uint8_t*, size_t, size_t,
                                    const std::vector<std::string>&, int32_t*);

}  // namespace crmcore::sales
