// The search for duplicate records: blocks of records sharing a value, the
// weighing of each candidate pair, and the clusters the kept pairs form.
#include "crmcore/records/duplicates.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <cstring>
#include <exception>
#include <limits>
#include <mutex>
#include <numeric>
#include <thread>

#include "crmcore/errors.hpp"
#include "crmcore/records/normalize.hpp"

namespace crmcore::records {

namespace {

// ---- the weights, in bits ----------------------------------------------------------
// A pair starts at kBaseBits: two records of a kind are, a priori, rarely the
// same party. Agreeing on a value held by `count` records adds
// top - log2(count / 2), so a value shared by two records adds `top`, and
// one shared by more adds less, down to a floor: 0 for phones and e-mails,
// kNameFloor for names (the same name, however common, is still the same
// name). A block whose value adds no more than its floor is not searched:
// the floor is the most a pair gets from blocks not searched, and the
// smallest threshold allowed is the score of that (duplicate_score_floor).
constexpr double kBaseBits = -5.0;
constexpr double kNameFloor = 1.0;
constexpr double kPhoneTop = 6.0;
constexpr double kEmailTop = 7.0;
constexpr double kNameTop = 6.0;
constexpr double kPinyinTop = 5.0;
// Similar names: kTypoSlope * (1 - distance / length) - kTypoOffset, less the
// same rarity term (of the commoner of the two names).
constexpr double kTypoSlope = 8.0;
constexpr double kTypoOffset = 3.5;
constexpr double kTypoTop = kTypoSlope - kTypoOffset;  // the bound at distance 0
// Disagreement.
constexpr double kPhoneConflictBits = -2.0;  // numbers change, companies have several
constexpr double kEmailConflictBits = -1.5;  // people keep several addresses
constexpr double kNameConflictBits = -3.0;
constexpr double kPlaceConflictBits = -6.0;  // 北京华创 and 上海华创 are two companies

// Names shorter than this have no typo evidence: 王芳 / 王方 are two people.
constexpr size_t kTypoMinLength = 4;
constexpr size_t kTwoTyposMinLength = 10;

double score_of(double bits) { return 1.0 / (1.0 + std::exp2(-bits)); }

// log2(count / 2) for the counts of searched blocks (at most 2^(kEmailTop+1)).
const std::array<double, 512>& half_log2() {
  static const std::array<double, 512> table = [] {
    std::array<double, 512> t{};
    for (size_t c = 1; c < t.size(); ++c) t[c] = std::log2(static_cast<double>(c) / 2.0);
    return t;
  }();
  return table;
}

double shared_bits(double top, uint32_t count, double floor = 0.0) {
  const double rarity = count < 512 ? half_log2()[count] : std::log2(count / 2.0);
  return std::max(floor, top - rarity);
}

// A typo of distance d in names of `length`, the commoner of which is held
// by `count` records.
double typo_bits(int d, size_t length, uint32_t count) {
  const double similarity = 1.0 - static_cast<double>(d) / static_cast<double>(length);
  return shared_bits(kTypoSlope * similarity - kTypoOffset, count);
}

// The smallest count whose agreement adds no more than `floor`.
uint32_t useless_count(double top, double floor = 0.0) {
  return static_cast<uint32_t>(std::ceil(std::exp2(top - floor + 1.0)));
}

// Whether the shorter name (of at least kTypoMinLength characters) begins or
// ends the longer one.
bool contains(const std::u32string& a, const std::u32string& b) {
  const std::u32string& shorter = a.size() <= b.size() ? a : b;
  const std::u32string& longer = a.size() <= b.size() ? b : a;
  if (shorter.size() < kTypoMinLength) return false;
  return longer.compare(0, shorter.size(), shorter) == 0 ||
         longer.compare(longer.size() - shorter.size(), shorter.size(), shorter) == 0;
}

int allowed_typos(size_t length, int max_typos) {
  const int k = length < kTypoMinLength ? 0 : length < kTwoTyposMinLength ? 1 : 2;
  return std::min(k, max_typos);
}

// ---- hashing -----------------------------------------------------------------------------

uint64_t mix(uint64_t x) {
  x ^= x >> 30;
  x *= 0xBF58476D1CE4E5B9ULL;
  x ^= x >> 27;
  x *= 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

uint64_t hash_bytes(const void* data, size_t size, uint64_t seed) {
  const auto* p = static_cast<const unsigned char*>(data);
  uint64_t h = mix(seed ^ (size * 0x9E3779B97F4A7C15ULL));
  size_t i = 0;
  for (; i + 8 <= size; i += 8) {
    uint64_t k;
    std::memcpy(&k, p + i, 8);
    h = mix(h ^ k);
  }
  uint64_t tail = 0;
  std::memcpy(&tail, p + i, size - i);
  return mix(h ^ tail ^ 0xA5);
}

std::string_view bytes_of(const std::u32string& s) {
  return {reinterpret_cast<const char*>(s.data()), s.size() * sizeof(char32_t)};
}

// ---- the records as compared ---------------------------------------------------------------

enum KeyType : uint32_t { kPhone = 0, kEmail = 1, kName = 2, kPinyin = 3 };
constexpr double kTops[] = {kPhoneTop, kEmailTop, kNameTop, kPinyinTop};
constexpr double kFloors[] = {0.0, 0.0, kNameFloor, kNameFloor};

struct Form {
  std::vector<std::string> phones, emails, pinyin;
  std::u32string key, sorted;
  int place = -1;
  bool han = false;
};

// Spellings of a name in toneless pinyin. An all-Han name is spelled with
// each character's most common reading, and again with each other reading
// of its first character, the surname (单 is Shan as a surname, not dan; 曾
// Zeng, not ceng). A Latin name is a spelling when its words split into
// syllables; it stands as written and with its last word first, since
// "Fang Wang" is 王芳 too.
std::vector<std::string> pinyin_spellings(const NameForm& name, const PinyinTable& table) {
  std::vector<std::string> out;
  if (table.empty() || name.key.empty()) return out;
  if (name.han) {
    if (name.key.size() < 2 || name.key.size() > 8) return out;
    std::string rest;
    for (size_t i = 1; i < name.key.size(); ++i) {
      const auto* r = table.readings(name.key[i]);
      if (r == nullptr || r->empty()) return out;
      rest += r->front();
    }
    const auto* surname = table.readings(name.key[0]);
    if (surname == nullptr) return out;
    for (const auto& reading : *surname) out.push_back(reading + rest);
  } else {
    if (name.words.size() > 4) return out;
    std::string in_order;
    for (const auto& w : name.words) {
      std::string word;
      for (char32_t c : w) {
        if (c < 'a' || c > 'z') return out;
        word.push_back(static_cast<char>(c));
      }
      if (!table.spells_pinyin(word)) return out;
      in_order += word;
    }
    out.push_back(in_order);
    if (name.words.size() > 1) {
      const size_t last = name.words.back().size();
      out.push_back(in_order.substr(in_order.size() - last) + in_order.substr(0, in_order.size() - last));
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

void add_values(std::vector<std::string>& out, const std::string& text, std::string (*key)(std::string_view)) {
  for (const auto& v : split_values(text)) {
    std::string k = key(v);
    if (!k.empty()) out.push_back(std::move(k));
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
}

std::string email_key(std::string_view text) { return normalize_email(text); }

// ---- running on the machine's cores ------------------------------------------------------

// Calls work(thread, begin, end) over [0, n) in chunks taken in turn by each
// thread; the calling thread is thread 0 and the only one that asks `cancel`.
template <typename Work>
void parallel_chunks(size_t n, size_t chunk, size_t threads, Cancel& cancel, Work work) {
  std::atomic<size_t> next{0};
  std::atomic<bool> stop{false};
  std::exception_ptr failure;
  std::mutex failure_lock;
  auto run = [&](size_t t) {
    try {
      for (;;) {
        if (stop.load(std::memory_order_relaxed)) return;
        const size_t begin = next.fetch_add(chunk);
        if (begin >= n) return;
        const size_t end = std::min(n, begin + chunk);
        work(t, begin, end);
        if (t == 0) cancel.tick(end - begin);
      }
    } catch (...) {
      std::lock_guard<std::mutex> lock(failure_lock);
      if (!failure) failure = std::current_exception();
      stop = true;
    }
  };
  std::vector<std::thread> pool;
  for (size_t t = 1; t < threads; ++t) pool.emplace_back(run, t);
  run(0);
  for (auto& th : pool) th.join();
  if (failure) std::rethrow_exception(failure);
}

size_t thread_count(size_t work) {
  const size_t hw = std::max(1u, std::thread::hardware_concurrency());
  return std::min<size_t>({hw, 8, std::max<size_t>(1, work / 4096)});
}

// ---- blocks ----------------------------------------------------------------------------------

// One value of one record: a phone, an e-mail, a name form or a pinyin
// spelling, with the place it was qualified by (0: none, else place + 1).
struct Entry {
  uint64_t hash;    // of the value, seeded with the tag
  uint32_t record;
  uint16_t tag;     // type << 14 | place tag
  uint16_t item;    // which value of the record (for names: 0 the key, 1 the sorted form)
};
static_assert(sizeof(Entry) == 16, "entries are sorted by the million: keep them small");
constexpr uint32_t kTypeShift = 14;
constexpr uint32_t kPlaceMask = (1u << kTypeShift) - 1;

constexpr uint32_t kNone = std::numeric_limits<uint32_t>::max();

class Search {
 public:
  Search(const std::vector<std::string>& names, const std::vector<std::string>& phones,
         const std::vector<std::string>& emails, const PinyinTable& pinyin, const DuplicateOptions& options,
         Cancel& cancel)
      : n_(names.size()),
        options_(options),
        cancel_(cancel),
        threads_(thread_count(names.size())),
        // score >= threshold exactly when bits >= log2(t / (1 - t))
        threshold_bits_(options.threshold >= 1.0 ? std::numeric_limits<double>::infinity()
                                                 : std::log2(options.threshold / (1.0 - options.threshold))) {
    read(names, phones, emails, pinyin);
    block();
  }

  DuplicatePairs run() {
    std::vector<std::vector<Kept>> kept(threads_);
    if (options_.exhaustive) {
      parallel_chunks(n_, 64, threads_, cancel_, [&](size_t t, size_t begin, size_t end) {
        for (size_t i = begin; i < end; ++i)
          for (size_t j = i + 1; j < n_; ++j) keep(static_cast<uint32_t>(i), static_cast<uint32_t>(j), kept[t]);
      });
    } else {
      search_blocks(kept);
      search_typos(kept);
    }
    return finish(kept);
  }

 private:
  struct Kept {
    uint32_t a, b;
    double bits;
    uint32_t reasons;
  };
  struct Weighed {
    double bits;
    uint32_t reasons;
    uint32_t first_block;  // the smallest searched block both records are in, kNone if none
  };

  // -- reading -------------------------------------------------------------------------------
  void read(const std::vector<std::string>& names, const std::vector<std::string>& phones,
            const std::vector<std::string>& emails, const PinyinTable& pinyin) {
    forms_.resize(n_);
    parallel_chunks(n_, 2048, threads_, cancel_, [&](size_t, size_t begin, size_t end) {
      for (size_t i = begin; i < end; ++i) {
        Form& f = forms_[i];
        add_values(f.phones, phones[i], &phone_key);
        add_values(f.emails, emails[i], &email_key);
        NameForm name = normalize_name(names[i]);
        f.pinyin = pinyin_spellings(name, pinyin);
        f.key = std::move(name.key);
        f.sorted = std::move(name.sorted);
        f.place = name.place;
        f.han = name.han;
      }
    });
  }

  std::string_view value(const Entry& e) const {
    const Form& f = forms_[e.record];
    switch (e.tag >> kTypeShift) {
      case kPhone: return f.phones[e.item];
      case kEmail: return f.emails[e.item];
      case kName: return bytes_of(e.item == 0 ? f.key : f.sorted);
      default: return f.pinyin[e.item];
    }
  }

  // -- blocking ------------------------------------------------------------------------------
  void block() {
    // Every value of every record; names and spellings once on their own and
    // once qualified by the record's place.
    std::vector<size_t> offset(n_ + 1, 0);
    for (size_t i = 0; i < n_; ++i) {
      const Form& f = forms_[i];
      const size_t names = f.key.empty() ? 0 : (f.sorted != f.key ? 2 : 1);
      const size_t per_place = f.place >= 0 ? 2 : 1;
      offset[i + 1] = offset[i] + f.phones.size() + f.emails.size() + (names + f.pinyin.size()) * per_place;
    }
    entries_.resize(offset[n_]);
    parallel_chunks(n_, 4096, threads_, cancel_, [&](size_t, size_t begin, size_t end) {
      for (size_t i = begin; i < end; ++i) {
        const Form& f = forms_[i];
        Entry* out = entries_.data() + offset[i];
        const auto r = static_cast<uint32_t>(i);
        auto put = [&](uint32_t type, uint32_t place_tag, uint32_t item, std::string_view v) {
          const auto tag = static_cast<uint16_t>(type << kTypeShift | place_tag);
          *out++ = Entry{hash_bytes(v.data(), v.size(), tag), r, tag, static_cast<uint16_t>(item)};
        };
        for (uint32_t k = 0; k < f.phones.size(); ++k) put(kPhone, 0, k, f.phones[k]);
        for (uint32_t k = 0; k < f.emails.size(); ++k) put(kEmail, 0, k, f.emails[k]);
        auto put_names = [&](uint32_t place_tag) {
          if (f.key.empty()) return;
          put(kName, place_tag, 0, bytes_of(f.key));
          if (f.sorted != f.key) put(kName, place_tag, 1, bytes_of(f.sorted));
          for (uint32_t k = 0; k < f.pinyin.size(); ++k) put(kPinyin, place_tag, k, f.pinyin[k]);
        };
        put_names(0);
        if (f.place >= 0) put_names(static_cast<uint32_t>(f.place) + 1);
      }
    });
    sort_entries();
    group_entries();
    describe_blocks();
  }

  void sort_entries() {
    auto less = [](const Entry& x, const Entry& y) {
      if (x.hash != y.hash) return x.hash < y.hash;
      if (x.tag != y.tag) return x.tag < y.tag;
      return x.record < y.record;
    };
    // Two halves sorted side by side, then merged.
    if (threads_ > 1 && entries_.size() > 100000) {
      auto mid = entries_.begin() + static_cast<std::ptrdiff_t>(entries_.size() / 2);
      std::thread other([&] { std::sort(entries_.begin(), mid, less); });
      std::sort(mid, entries_.end(), less);
      other.join();
      std::inplace_merge(entries_.begin(), mid, entries_.end(), less);
    } else {
      std::sort(entries_.begin(), entries_.end(), less);
    }
    cancel_.tick(entries_.size());
  }

  // Runs of equal (tag, value) become blocks. Equal hashes of different
  // values (rare) are told apart by sorting their run by value.
  void group_entries() {
    const size_t m = entries_.size();
    for (size_t begin = 0; begin < m;) {
      size_t end = begin + 1;
      while (end < m && entries_[end].tag == entries_[begin].tag && entries_[end].hash == entries_[begin].hash) ++end;
      if (end == begin + 1) {  // most values (phones, e-mails) are held by one record
        block_start_.push_back(static_cast<uint32_t>(begin));
        begin = end;
        continue;
      }
      bool mixed = false;
      for (size_t k = begin + 1; k < end && !mixed; ++k) mixed = value(entries_[k]) != value(entries_[begin]);
      if (mixed)
        std::stable_sort(entries_.begin() + static_cast<std::ptrdiff_t>(begin),
                         entries_.begin() + static_cast<std::ptrdiff_t>(end),
                         [&](const Entry& x, const Entry& y) { return value(x) < value(y); });
      for (size_t s = begin; s < end;) {
        size_t e = s + 1;
        while (e < end && (!mixed || value(entries_[e]) == value(entries_[s]))) ++e;
        block_start_.push_back(static_cast<uint32_t>(s));
        s = e;
      }
      begin = end;
    }
    block_start_.push_back(static_cast<uint32_t>(m));
    const size_t blocks = block_start_.size() - 1;

    // Each record's blocks, ascending; and the blocks of its name key.
    std::vector<uint32_t> count(n_ + 1, 0);
    for (const Entry& e : entries_) ++count[e.record + 1];
    for (size_t i = 0; i < n_; ++i) count[i + 1] += count[i];
    record_start_ = count;
    record_blocks_.resize(m);
    key_block_any_.assign(n_, kNone);
    key_block_place_.assign(n_, kNone);
    std::vector<uint32_t> fill(count.begin(), count.end() - 1);
    for (uint32_t b = 0; b < blocks; ++b) {
      for (uint32_t k = block_start_[b]; k < block_start_[b + 1]; ++k) {
        const Entry& e = entries_[k];
        record_blocks_[fill[e.record]++] = b;
        if ((e.tag >> kTypeShift) == kName && e.item == 0)
          ((e.tag & kPlaceMask) == 0 ? key_block_any_ : key_block_place_)[e.record] = b;
      }
    }
    // Blocks are numbered in entry order, so each record's list is already
    // ascending except where a record holds two values of one block (a
    // name equal to its sorted form is stored once, so that never happens).
  }

  // What the weighing asks of a block, packed so that one read answers it:
  // its type, whether it is searched, its size (up to kSizeMask, past which
  // sharing it weighs nothing anyway) and its place tag.
  static constexpr uint32_t kSizeMask = (1u << 13) - 1;
  uint32_t block_type(uint32_t b) const { return block_meta_[b] >> 30; }
  uint32_t block_place(uint32_t b) const { return block_meta_[b] & 0xFFFF; }
  bool searched(uint32_t b) const { return (block_meta_[b] >> 29) & 1; }
  uint32_t block_size(uint32_t b) const { return (block_meta_[b] >> 16) & kSizeMask; }

  void describe_blocks() {
    const size_t blocks = block_start_.size() - 1;
    block_meta_.resize(blocks);
    uint32_t useless[4];
    for (uint32_t t = 0; t < 4; ++t) useless[t] = useless_count(kTops[t], kFloors[t]);
    for (size_t b = 0; b < blocks; ++b) {
      const uint32_t tag = entries_[block_start_[b]].tag;
      const uint32_t type = tag >> kTypeShift, size = block_start_[b + 1] - block_start_[b];
      const bool search = size >= 2 && size < useless[type];
      block_meta_[b] = type << 30 | static_cast<uint32_t>(search) << 29 | std::min(size, kSizeMask) << 16 |
                       (tag & kPlaceMask);
    }
    brief_.resize(n_);
    for (size_t i = 0; i < n_; ++i) {
      const Form& f = forms_[i];
      uint64_t letters = 0;
      for (char32_t c : f.key) letters |= uint64_t{1} << ((static_cast<uint32_t>(c) * 2654435761u) >> 26);
      brief_[i] = Brief{static_cast<int16_t>(f.place),
                        static_cast<uint8_t>((f.phones.empty() ? 0 : kHasPhone) | (f.emails.empty() ? 0 : kHasEmail) |
                                             (f.han ? kHan : 0)),
                        letters};
    }
  }

  // -- weighing -----------------------------------------------------------------------------------
  // A pinyin spelling is evidence between a Han name and a Latin one only:
  // two Han names reading alike are mostly two people (王芳, 汪芳), and two
  // Latin ones are compared as names.
  bool pinyin_pair(uint32_t i, uint32_t j) const { return ((brief_[i].flags ^ brief_[j].flags) & kHan) != 0; }

  // The weighing stops early, with first_block set, at a searched block
  // that both records share and that is numbered below `stop_below`: the
  // pair is weighed in that block instead. 0 weighs every pair in full.
  Weighed weigh(uint32_t i, uint32_t j, uint32_t stop_below) const {
    const Brief bi = brief_[i], bj = brief_[j];
    Weighed w{kBaseBits, 0, kNone};
    const bool places_known = bi.place >= 0 && bj.place >= 0;
    const bool place_conflict = places_known && !same_place(bi.place, bj.place);
    // Names agree in the block of their common place when they have one,
    // otherwise among all records of that name.
    const bool by_place = places_known && bi.place == bj.place;
    const bool pinyin = pinyin_pair(i, j);
    double best[4] = {-1, -1, -1, -1};
    const uint32_t* x = record_blocks_.data() + record_start_[i];
    const uint32_t* x_end = record_blocks_.data() + record_start_[i + 1];
    const uint32_t* y = record_blocks_.data() + record_start_[j];
    const uint32_t* y_end = record_blocks_.data() + record_start_[j + 1];
    while (x != x_end && y != y_end) {
      if (*x < *y) {
        ++x;
      } else if (*y < *x) {
        ++y;
      } else {
        const uint32_t b = *x;
        ++x, ++y;
        const uint32_t type = block_type(b);
        if (type == kPinyin && !pinyin) continue;
        if (searched(b)) {
          w.first_block = std::min(w.first_block, b);
          if (b < stop_below) return w;
        }
        if ((type == kName || type == kPinyin) && (block_place(b) != 0) != by_place) continue;
        best[type] = std::max(best[type], shared_bits(kTops[type], block_size(b), kFloors[type]));
      }
    }
    if (best[kPhone] >= 0) {
      w.bits += best[kPhone], w.reasons |= kSamePhone;
    } else if (bi.flags & bj.flags & kHasPhone) {
      w.bits += kPhoneConflictBits, w.reasons |= kDifferentPhone;
    }
    if (best[kEmail] >= 0) {
      w.bits += best[kEmail], w.reasons |= kSameEmail;
    } else if (bi.flags & bj.flags & kHasEmail) {
      w.bits += kEmailConflictBits, w.reasons |= kDifferentEmail;
    }
    if (place_conflict) {
      w.bits += kPlaceConflictBits, w.reasons |= kDifferentCity;
      return w;
    }
    if (best[kName] >= 0 || best[kPinyin] >= 0) {
      const bool by_pinyin = best[kPinyin] > best[kName];
      w.bits += by_pinyin ? best[kPinyin] : best[kName];
      w.reasons |= by_pinyin ? kSamePinyin : kSameName;
      return w;
    }
    const std::u32string& ki = forms_[i].key;
    const std::u32string& kj = forms_[j].key;
    if (ki.empty() || kj.empty()) return w;
    const size_t length = std::max(ki.size(), kj.size());
    const int limit = allowed_typos(length, options_.max_typos);
    const bool near = limit > 0 && __builtin_popcountll(bi.letters ^ bj.letters) <= 2 * limit;
    const int d = near ? typo_distance(ki, kj, limit) : limit + 1;
    if (d >= 1 && d <= limit) {
      const auto& blocks = by_place ? key_block_place_ : key_block_any_;
      w.bits += typo_bits(d, length, std::max(block_size(blocks[i]), block_size(blocks[j])));
      w.reasons |= kSimilarName;
    } else if (contains(ki, kj)) {
      // "Harbor Media" and "Harbor Media rGoup" (a legal form mistyped, a
      // branch added): no evidence either way.
      w.reasons |= kSimilarName;
    } else {
      w.bits += kNameConflictBits, w.reasons |= kDifferentName;
    }
    return w;
  }

  void keep(uint32_t i, uint32_t j, std::vector<Kept>& out) const { keep(i, j, weigh(i, j, 0), out); }

  void keep(uint32_t i, uint32_t j, const Weighed& w, std::vector<Kept>& out) const {
    if (w.bits >= threshold_bits_) out.push_back(Kept{i, j, w.bits, w.reasons});
  }

  // -- searching ------------------------------------------------------------------------------------
  // Each pair of each searched block, weighed once: in the first block the
  // two records share.
  void search_blocks(std::vector<std::vector<Kept>>& kept) {
    const size_t blocks = block_start_.size() - 1;
    parallel_chunks(blocks, 4096, threads_, cancel_, [&](size_t t, size_t begin, size_t end) {
      for (size_t b = begin; b < end; ++b) {
        if (!searched(static_cast<uint32_t>(b))) continue;
        const bool pinyin_block = block_type(static_cast<uint32_t>(b)) == kPinyin;
        for (uint32_t x = block_start_[b]; x < block_start_[b + 1]; ++x) {
          for (uint32_t y = x + 1; y < block_start_[b + 1]; ++y) {
            uint32_t i = entries_[x].record, j = entries_[y].record;
            if (i > j) std::swap(i, j);  // blocks split by value are not in record order
            if (pinyin_block && !pinyin_pair(i, j)) continue;
            const Weighed w = weigh(i, j, static_cast<uint32_t>(b));
            if (w.first_block == b) keep(i, j, w, kept[t]);
          }
        }
      }
    });
  }

  // Name blocks that typos are looked for from: names long enough, and rare
  // enough that a similar name could add weight.
  bool typo_indexed(uint32_t b) const {
    if (b == kNone || block_type(b) != kName) return false;
    const Form& f = forms_[entries_[block_start_[b]].record];
    const Entry& e = entries_[block_start_[b]];
    const std::u32string& s = e.item == 0 ? f.key : f.sorted;
    return allowed_typos(s.size(), options_.max_typos) > 0 && block_size(b) < useless_count(kTypoTop);
  }

  const std::u32string& block_name(uint32_t b) const {
    const Entry& e = entries_[block_start_[b]];
    return e.item == 0 ? forms_[e.record].key : forms_[e.record].sorted;
  }

  // Pairs of names within the allowed edit distance, found through their
  // deletion neighbourhoods (every string left after deleting up to k
  // characters): two strings within distance k (insertions, deletions,
  // substitutions, adjacent transpositions) always leave a string in common.
  void search_typos(std::vector<std::vector<Kept>>& kept) {
    if (options_.max_typos <= 0) return;
    const size_t blocks = block_start_.size() - 1;
    std::vector<uint8_t> indexed(blocks, 0);
    for (size_t i = 0; i < n_; ++i)
      for (uint32_t b : {key_block_any_[i], key_block_place_[i]})
        if (b != kNone && !indexed[b] && typo_indexed(b)) indexed[b] = 1;

    std::vector<std::vector<std::pair<uint64_t, uint32_t>>> parts(threads_);
    parallel_chunks(blocks, 1024, threads_, cancel_, [&](size_t t, size_t begin, size_t end) {
      std::vector<uint64_t> hashes;
      std::u32string v;
      for (size_t b = begin; b < end; ++b) {
        if (!indexed[b]) continue;
        const std::u32string& s = block_name(static_cast<uint32_t>(b));
        const int depth = allowed_typos(s.size(), options_.max_typos);
        const uint64_t seed = block_place(static_cast<uint32_t>(b)) + 1;
        auto add = [&](size_t skip1, size_t skip2) {  // s without the characters at skip1 and skip2
          v.clear();
          for (size_t k = 0; k < s.size(); ++k)
            if (k != skip1 && k != skip2) v.push_back(s[k]);
          hashes.push_back(hash_bytes(v.data(), v.size() * sizeof(char32_t), seed));
        };
        hashes.clear();
        const size_t none = s.size();
        add(none, none);
        for (size_t p = 0; p < s.size(); ++p) {
          add(p, none);
          if (depth >= 2)
            for (size_t q = p + 1; q < s.size(); ++q) add(p, q);
        }
        std::sort(hashes.begin(), hashes.end());
        hashes.erase(std::unique(hashes.begin(), hashes.end()), hashes.end());
        for (uint64_t h : hashes) parts[t].emplace_back(h, static_cast<uint32_t>(b));
      }
    });
    std::vector<std::pair<uint64_t, uint32_t>> variants;
    for (auto& p : parts) variants.insert(variants.end(), p.begin(), p.end()), p = {};
    std::sort(variants.begin(), variants.end());
    cancel_.tick(variants.size());

    std::vector<uint64_t> block_pairs;
    for (size_t begin = 0; begin < variants.size();) {
      size_t end = begin + 1;
      while (end < variants.size() && variants[end].first == variants[begin].first) ++end;
      for (size_t x = begin; x < end; ++x)
        for (size_t y = x + 1; y < end; ++y)
          block_pairs.push_back(uint64_t{variants[x].second} << 32 | variants[y].second);
      begin = end;
    }
    variants = {};
    std::sort(block_pairs.begin(), block_pairs.end());
    block_pairs.erase(std::unique(block_pairs.begin(), block_pairs.end()), block_pairs.end());

    parallel_chunks(block_pairs.size(), 256, threads_, cancel_, [&](size_t t, size_t begin, size_t end) {
      for (size_t k = begin; k < end; ++k) {
        const auto b1 = static_cast<uint32_t>(block_pairs[k] >> 32);
        const auto b2 = static_cast<uint32_t>(block_pairs[k]);
        if (block_place(b1) != block_place(b2)) continue;  // a hash collision
        const std::u32string& s1 = block_name(b1);
        const std::u32string& s2 = block_name(b2);
        const int limit = allowed_typos(std::max(s1.size(), s2.size()), options_.max_typos);
        const int d = typo_distance(s1, s2, limit);
        if (d < 1 || d > limit) continue;
        // Every pair met here weighs the typo alike; when that adds nothing,
        // the pairs are left to the blocks of what else they share.
        if (typo_bits(d, std::max(s1.size(), s2.size()), std::max(block_size(b1), block_size(b2))) <= 0) continue;
        const bool by_place = block_place(b1) != 0;
        for (uint32_t x = block_start_[b1]; x < block_start_[b1 + 1]; ++x) {
          if (entries_[x].item != 0) continue;  // a record whose sorted form, not key, this is
          for (uint32_t y = block_start_[b2]; y < block_start_[b2 + 1]; ++y) {
            if (entries_[y].item != 0) continue;
            uint32_t i = entries_[x].record, j = entries_[y].record;
            if (i > j) std::swap(i, j);
            // A pair of one place is met twice, among the names of its place
            // and among all names; it is weighed in the first of those that
            // is searched.
            if (!by_place && forms_[i].place >= 0 && forms_[i].place == forms_[j].place &&
                key_block_place_[i] != kNone && key_block_place_[j] != kNone && indexed[key_block_place_[i]] &&
                indexed[key_block_place_[j]])
              continue;
            const Weighed w = weigh(i, j, kNone);
            if (w.first_block == kNone) keep(i, j, w, kept[t]);
          }
        }
      }
    });
  }

  // -- results ----------------------------------------------------------------------------------------
  DuplicatePairs finish(std::vector<std::vector<Kept>>& kept) {
    std::vector<Kept> all;
    for (auto& k : kept) all.insert(all.end(), k.begin(), k.end()), k = {};
    std::sort(all.begin(), all.end(), [](const Kept& x, const Kept& y) { return x.a != y.a ? x.a < y.a : x.b < y.b; });
    // Union-find over the kept pairs; a component is named by its smallest row.
    std::vector<uint32_t> parent(n_);
    std::iota(parent.begin(), parent.end(), 0u);
    auto root = [&](uint32_t v) {
      while (parent[v] != v) v = parent[v] = parent[parent[v]];
      return v;
    };
    for (const Kept& k : all) {
      const uint32_t ra = root(k.a), rb = root(k.b);
      if (ra != rb) parent[std::max(ra, rb)] = std::min(ra, rb);
    }
    DuplicatePairs out;
    out.a.reserve(all.size());
    out.b.reserve(all.size());
    out.score.reserve(all.size());
    out.reasons.reserve(all.size());
    out.cluster.reserve(all.size());
    for (const Kept& k : all) {
      out.a.push_back(k.a);
      out.b.push_back(k.b);
      out.score.push_back(score_of(k.bits));
      out.reasons.push_back(k.reasons);
      out.cluster.push_back(root(k.a));
    }
    return out;
  }

  // Per record, what every weighing reads (the rest of a Form is read rarely).
  static constexpr uint8_t kHasPhone = 1, kHasEmail = 2, kHan = 4;
  struct Brief {
    int16_t place;
    uint8_t flags;
    // Which of 64 classes of characters the name key holds. An edit changes
    // at most two of these bits, so names whose sets differ in more than
    // 2k bits are more than k edits apart, and need no alignment table.
    uint64_t letters;
  };

  size_t n_;
  DuplicateOptions options_;
  Cancel& cancel_;
  size_t threads_;
  double threshold_bits_;
  std::vector<Form> forms_;
  std::vector<Entry> entries_;
  std::vector<uint32_t> block_start_, block_meta_;
  std::vector<Brief> brief_;
  std::vector<uint32_t> record_start_, record_blocks_;
  std::vector<uint32_t> key_block_any_, key_block_place_;
};

}  // namespace

const std::vector<std::string>& duplicate_reason_names() {
  static const std::vector<std::string> names = {"same phone",      "same e-mail",    "same name",
                                                 "similar name",    "same pinyin",    "different phone",
                                                 "different e-mail", "different name", "different city"};
  return names;
}

double duplicate_score_floor() { return score_of(kBaseBits + kNameFloor); }

DuplicatePairs find_duplicates(const std::vector<std::string>& names, const std::vector<std::string>& phones,
                               const std::vector<std::string>& emails, const PinyinTable& pinyin,
                               const DuplicateOptions& options, Cancel& cancel) {
  if (phones.size() != names.size() || emails.size() != names.size())
    throw std::invalid_argument("names, phones and emails must have one entry per record");
  if (!(options.threshold > duplicate_score_floor()) || !(options.threshold <= 1.0))
    throw std::invalid_argument("threshold must be above " + std::to_string(duplicate_score_floor()) +
                                " (what a pair gets from a common name alone) and at most 1");
  if (options.max_typos < 0 || options.max_typos > 2)
    throw std::invalid_argument("max_typos must be 0, 1 or 2");
  if (names.size() >= kNone) throw std::invalid_argument("too many records for one search");
  return Search(names, phones, emails, pinyin, options, cancel).run();
}

}  // namespace crmcore::records
