// Receivables: the invoices open on a date and the aging report, from the
// invoice and payment columns (payments summed per invoice found by id).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

#include "crmcore/sales/reports.hpp"
#include "crmcore/scoring/group.hpp"
#include "ids.hpp"

namespace crmcore::sales {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Ids in order without gaps from `first` (a whole kind as the store lists
// it): the position of an id is the id less the first, -1 outside. A
// select, not a branch, and no table or flags to read, unlike IdIndex::find.
struct InOrder {
  int64_t first;
  size_t n;
  int64_t operator()(int64_t id) const {
    const uint64_t at = static_cast<uint64_t>(id) - static_cast<uint64_t>(first);
    return at < n ? static_cast<int64_t>(at) : -1;
  }
};

// Whether ids[0..n) can be in order without gaps (the last one fits int64).
bool may_be_in_order(const int64_t* ids, size_t n) {
  return n > 0 && ids[0] <= std::numeric_limits<int64_t>::max() - static_cast<int64_t>(n - 1);
}

// Adds what the payments made by `as_of` settle to `paid` (by invoice
// position, `find(id)`; -1 for an id that is no invoice's: `paid[-1]` is a
// slot for them, counted nowhere).
// No branch on the payment: one made after as_of or with no amount (NaN)
// adds 0.0, which leaves a sum exactly as it was (sums start at +0.0, so
// none is -0.0, the one value that adding +0.0 changes). A branch on paid_at
// mispredicted on the payments near as_of, in random order.
template <typename Find>
void add_payments(double* paid, const Find& find, const int64_t* pay_invoice, const int64_t* paid_at,
                  const double* settles, size_t payments, int64_t as_of) {
  // Payments come in any order of invoice: asking for the invoice a few
  // payments ahead keeps several cache misses in flight instead of one.
  // 32 ahead rather than 16: the aging kernel at 1M invoices and payments,
  // median 15.8 to 15.0 ms (best of 15, four runs each, results identical);
  // 64 was no better. Into every cache level (locality 3, not 1): the sum
  // is added to 32 payments later, and the aging kernel was 0.4 ms of 15
  // faster so (both prefetches of the kernel; six runs, load 4).
  constexpr size_t kAhead = 32;
  for (size_t p = 0; p < payments; ++p) {
    if (p + kAhead < payments) __builtin_prefetch(paid + find(pay_invoice[p + kAhead]), 1, 3);
    // The settlement's bits masked to +0.0's when it does not count: the
    // compiler made `counts ? settle : 0.0` a jump on paid_at.
    const bool counts = (paid_at[p] <= as_of) & !std::isnan(settles[p]);
    uint64_t bits;
    std::memcpy(&bits, settles + p, sizeof bits);
    bits &= uint64_t{0} - static_cast<uint64_t>(counts);
    double settle;
    std::memcpy(&settle, &bits, sizeof settle);
    paid[find(pay_invoice[p])] += settle;
  }
}

// add_payments with the invoices found by id through an IdIndex.
void add_payments_by_id(double* paid, const int64_t* invoice_ids, size_t invoices, const int64_t* pay_invoice,
                        const int64_t* paid_at, const double* settles, size_t payments, int64_t as_of) {
  const IdIndex index(invoice_ids, invoices);
  if (index.in_order()) {
    add_payments(paid, InOrder{invoice_ids[0], invoices}, pay_invoice, paid_at, settles, payments, as_of);
  } else {
    add_payments(
        paid, [&index](int64_t id) { return index.find(id); }, pay_invoice, paid_at, settles, payments, as_of);
  }
}

// What the payments made by `as_of` settle of each invoice, with a slot
// more than the invoices, first (for payments naming no invoice of
// `invoice_ids`): invoice i's sum is at i + 1.
std::vector<double> paid_by_invoice(const int64_t* invoice_ids, size_t invoices, const int64_t* pay_invoice,
                                    const int64_t* paid_at, const double* settles, size_t payments, int64_t as_of) {
  std::vector<double> slots(invoices + 1, 0.0);
  add_payments_by_id(slots.data() + 1, invoice_ids, invoices, pay_invoice, paid_at, settles, payments, as_of);
  return slots;
}

// The bucket of an open invoice `late` days past due (0 current, then up to
// 30, 60, 90 days, and beyond).
// Counted, not branched: invoices come in random order of lateness.
int64_t bucket_of(double late) {
  return static_cast<int64_t>(late > 0.0) + static_cast<int64_t>(late > 30.0) + static_cast<int64_t>(late > 60.0) +
         static_cast<int64_t>(late > 90.0);
}

// The bucket of an invoice due at `due` on `as_of`, from the nanoseconds
// late: the same as bucket_of(days_past(as_of, due)) without a division per
// invoice (the bounds, 30, 60 and 90 days, are below 2^53 ns, so the days
// as a double compare with them exactly as the nanoseconds do).
// Selects, not branches (conditional moves): the aging kernel finds the
// bucket of every invoice, open or not, in one pass without a jump.
uint8_t bucket_at(int64_t as_of, int64_t due) {
  constexpr int64_t kDay = 86400LL * 1000000000LL;
  int64_t late;
  const bool overflow = __builtin_sub_overflow(as_of, due, &late);
  late = overflow ? (as_of > due ? std::numeric_limits<int64_t>::max() : 0) : late;
  late = due == std::numeric_limits<int64_t>::min() ? 0 : late;  // no due date: not late
  return static_cast<uint8_t>(static_cast<int>(late > 0) + static_cast<int>(late > 30 * kDay) +
                              static_cast<int>(late > 60 * kDay) + static_cast<int>(late > 90 * kDay));
}

// Days from `due` to `as_of` (below 0: not yet due); an invoice without a
// due date (INT64_MIN) is not late.
double days_past(int64_t as_of, int64_t due) {
  if (due == std::numeric_limits<int64_t>::min()) return 0.0;
  return scoring::days_between(as_of, due);
}

// An invoice's balance if it is open on as_of, else NaN.
double open_balance(double amount, double paid, bool live, int64_t issued, int64_t as_of) {
  const double a = std::isnan(amount) ? 0.0 : amount;
  const double balance = a - paid;
  return live && issued <= as_of && balance > 1e-9 * std::max(1.0, std::abs(a)) ? balance : kNaN;
}

// A row of the aging report: the five bucket sums, then their total (added
// left to right, as pandas' sum across a row adds them).
void add_aging_row(std::vector<double>& sums, const double* bucket) {
  double total = 0.0;
  for (size_t b = 0; b < 5; ++b) sums.push_back(bucket[b]), total += bucket[b];
  sums.push_back(total);
}


}  // namespace

OpenBalances open_balances(const int64_t* invoice_ids, const int64_t* issued, const int64_t* due,
                           const double* amount, const uint8_t* live, size_t invoices, const int64_t* pay_invoice,
                           const int64_t* paid_at, const double* settles, size_t payments, int64_t as_of) {
  const std::vector<double> slots = paid_by_invoice(invoice_ids, invoices, pay_invoice, paid_at, settles, payments,
                                                    as_of);
  const double* paid = slots.data() + 1;
  OpenBalances out;
  for (auto* v : {&out.paid, &out.balance, &out.days_late}) v->reserve(invoices);
  out.rows.reserve(invoices), out.bucket.reserve(invoices);
  for (size_t i = 0; i < invoices; ++i) {
    const double balance = open_balance(amount[i], paid[i], live[i] != 0, issued[i], as_of);
    if (std::isnan(balance)) continue;
    const double late = std::max(0.0, days_past(as_of, due[i]));
    out.rows.push_back(static_cast<int64_t>(i));
    out.paid.push_back(paid[i]);
    out.balance.push_back(balance);
    out.days_late.push_back(late);
    out.bucket.push_back(bucket_of(late));
  }
  return out;
}


namespace {

// The invoices open on as_of, in invoice order (a compact list): entry j
// is (position << 3) | bucket of the j-th open invoice, its balance is
// written over what was paid (see open_invoices); and the range of the
// keys present.
template <typename Entry>
struct OpenInvoices {
  std::unique_ptr<Entry[]> entry;
  size_t size = 0;
  int64_t lo = std::numeric_limits<int64_t>::max(), hi = std::numeric_limits<int64_t>::min();
  bool bad_status = false;   // a status code outside [-1, codes): the caller finds the row
  bool ids_in_order = true;  // with kCheckIds: whether ids[i] is ids[0] + i throughout
  size_t position(size_t j) const { return static_cast<size_t>(entry[j] >> 3); }
  size_t bucket(size_t j) const { return static_cast<size_t>(entry[j] & 7); }
};

// One pass over the invoices without a branch on the invoice: each one's
// balance, bucket and whether it is open are computed, its entry written at
// the end of the list, and the list grows by one when it is open
// (`size += open`). Branching on open, paid or void invoices in random
// order mispredicted on a large part of them; the pass reads every column
// once in order. The status check, the keys' range and the ids' order are
// folded in here (each was a pass of its own).
// `live_of[code + 1]` is whether an invoice of status `code` is owed (index
// 0: the missing status, -1); `codes` is the number of status codes.
// `paid[i]` is what was paid of invoice i; the open invoices' balances are
// written over it, the j-th open one's at paid[j] (j <= i: never a sum
// still to be read), so that no array of balances is allocated (each 8 MB
// array costs page faults on every call). The entry is 4 bytes while the
// positions fit (the list is written and read once more), else 8. With
// kCheckIds the pass also checks that the ids are in order without gaps
// (the caller guessed so).
template <typename Entry, bool kMasked, bool kCheckIds>
OpenInvoices<Entry> open_invoices(const int64_t* ids, const int64_t* key, const uint8_t* key_present,
                                  const int64_t* issued, const int64_t* due, const double* amount,
                                  const int32_t* status, const std::vector<uint8_t>& live_of, uint32_t codes,
                                  size_t invoices, double* paid, int64_t as_of) {
  OpenInvoices<Entry> out;
  out.entry.reset(new Entry[invoices]);  // not zeroed: each entry is written before it is read
  Entry* entries = out.entry.get();
  size_t size = 0;
  uint32_t bad = 0;
  uint64_t gaps = 0;
  const uint64_t first = kCheckIds ? static_cast<uint64_t>(ids[0]) : 0;
  int64_t lo = out.lo, hi = out.hi;
  for (size_t i = 0; i < invoices; ++i) {
    if (kCheckIds) gaps |= static_cast<uint64_t>(ids[i]) ^ (first + i);
    // The code shifted by one as unsigned: -1 is 0, and any code below -1
    // or from `codes` up is above `codes` (one comparison for both ends).
    const uint32_t code = static_cast<uint32_t>(status[i]) + 1u;
    bad |= static_cast<uint32_t>(code > codes);
    const bool live = live_of[std::min(code, codes + 1)] != 0;  // codes + 1: a bad code's slot (0)
    const double a = std::isnan(amount[i]) ? 0.0 : amount[i];
    const double balance = a - paid[i];
    // As open_balance, with & for && (no jumps): NaN balances compare false.
    bool open = live & (issued[i] <= as_of) & (balance > 1e-9 * std::max(1.0, std::abs(a)));
    if (kMasked) open &= key_present[i] != 0;
    paid[size] = balance;
    entries[size] = static_cast<Entry>(i << 3 | bucket_at(as_of, due[i]));
    // The range of every key present, open or not (as a pass of its own
    // found it): a condition on `open` here became a jump on it.
    if (key && (!kMasked || key_present[i])) lo = std::min(lo, key[i]), hi = std::max(hi, key[i]);
    size += static_cast<size_t>(open);
  }
  out.size = size, out.lo = lo, out.hi = hi, out.bad_status = bad != 0, out.ids_in_order = gaps == 0;
  return out;
}

// The total of a row of the aging report: its five bucket sums added left
// to right, as pandas' sum across a row adds them.
double row_total(const double* bucket) {
  double total = 0.0;
  for (size_t b = 0; b < 5; ++b) total += bucket[b];
  return total;
}

// The report from the open invoices (open_invoices' list, balances in
// `balance`): one row for the whole book without `key`, else a row per key.
template <typename Entry>
Aging aging_rows(const OpenInvoices<Entry>& open, const double* balance, const int64_t* key, size_t invoices) {
  Aging out;
  if (!key) {  // the whole book: one row, open invoices or not
    double book[5] = {0.0, 0.0, 0.0, 0.0, 0.0};
    for (size_t j = 0; j < open.size; ++j) book[open.bucket(j)] += balance[j];
    out.keys.push_back(0), add_aging_row(out.sums, book);
    return out;
  }
  if (open.size == 0) return out;  // no open invoice has a key
  const int64_t lo = open.lo;
  const uint64_t span = static_cast<uint64_t>(open.hi) - static_cast<uint64_t>(lo) + 1;
  if (span <= 4 * static_cast<uint64_t>(invoices) + (1u << 20)) {
    // Keys are ids, dense: sum straight into a row per key value, then keep
    // the rows that got an open invoice, in key order. The rows are those of
    // the report itself (five buckets and the total): the kept ones are
    // moved up over the others in place, so no grid is allocated and
    // zeroed besides the report (6.4 MB at 100k customers). A row got an
    // open invoice when one of its sums is not 0: each balance is above 0.
    constexpr size_t kRow = 6;
    std::vector<double>& grid = out.sums;
    grid.assign(static_cast<size_t>(span) * kRow, 0.0);
    // Open invoices in any order of key: the cell of the invoice 32 ahead
    // in the list is asked for (the line it adds to, whichever bucket),
    // into every cache level as the payments' sums are.
    constexpr size_t kAhead = 32;
    double* cells = grid.data();
    for (size_t j = 0; j < open.size; ++j) {
      if (j + kAhead < open.size)
        __builtin_prefetch(cells + static_cast<size_t>(key[open.position(j + kAhead)] - lo) * kRow +
                               open.bucket(j + kAhead), 1, 3);
      cells[static_cast<size_t>(key[open.position(j)] - lo) * kRow + open.bucket(j)] += balance[j];
    }
    out.keys.reserve(static_cast<size_t>(std::min<uint64_t>(span, open.size)));  // a key per open invoice at most
    size_t rows = 0;
    for (size_t r = 0; r < span; ++r) {
      const double* row = cells + r * kRow;
      if ((row[0] != 0.0) + (row[1] != 0.0) + (row[2] != 0.0) + (row[3] != 0.0) + (row[4] != 0.0) == 0) continue;
      double* kept = cells + rows * kRow;  // rows <= r: at or before the row read
      for (size_t b = 0; b < 5; ++b) kept[b] = row[b];
      kept[5] = row_total(kept);
      out.keys.push_back(lo + static_cast<int64_t>(r));
      ++rows;
    }
    grid.resize(rows * kRow);
  } else {
    std::vector<int64_t> keys(open.size);
    for (size_t j = 0; j < open.size; ++j) keys[j] = key[open.position(j)];
    const std::vector<int64_t> none(open.size, 0);
    const std::vector<uint8_t> every(open.size, 1);
    PairGroups g = group_pairs(none.data(), keys.data(), every.data(), open.size);
    out.keys = std::move(g.group_b);
    std::vector<double> grid(out.keys.size() * 5, 0.0);
    for (size_t j = 0; j < open.size; ++j) grid[static_cast<size_t>(g.code[j]) * 5 + open.bucket(j)] += balance[j];
    out.sums.reserve(out.keys.size() * 6);
    for (size_t r = 0; r < out.keys.size(); ++r) add_aging_row(out.sums, grid.data() + r * 5);
  }
  return out;
}

}  // namespace

Aging aging_groups(const int64_t* invoice_ids, const int64_t* key, const uint8_t* key_present, const int64_t* issued,
                   const int64_t* due, const double* amount, const int32_t* status,
                   const std::vector<uint8_t>& status_live, size_t invoices, const int64_t* pay_invoice,
                   const int64_t* paid_at, const double* settles, size_t payments, int64_t as_of,
                   bool ids_in_order) {
  const auto codes = static_cast<int32_t>(status_live.size());
  std::vector<uint8_t> live_of(static_cast<size_t>(codes) + 2, 0);
  live_of[0] = 1;  // no status (-1): owed
  for (int32_t c = 0; c < codes; ++c) live_of[static_cast<size_t>(c) + 1] = status_live[static_cast<size_t>(c)] != 0;
  // The payments summed per invoice, guessing that the invoice ids are in
  // order without gaps (a whole kind as the store lists it, the usual case):
  // the invoice pass then checks the guess on the way, where building an
  // IdIndex first read every id in a pass of its own. A wrong guess is
  // found there and both passes are made again with an IdIndex. When the
  // caller knows them in order, the ids are not read at all (8 MB at 1M
  // invoices: 0.5 to 0.9 ms of 17).
  std::vector<double> slots(invoices + 1, 0.0);
  double* paid = slots.data() + 1;  // paid[-1]: payments naming no invoice
  const bool guess = invoices > 0 && (ids_in_order || may_be_in_order(invoice_ids, invoices));
  const bool check = guess && !ids_in_order;
  if (guess) add_payments(paid, InOrder{invoice_ids[0], invoices}, pay_invoice, paid_at, settles, payments, as_of);
  else add_payments_by_id(paid, invoice_ids, invoices, pay_invoice, paid_at, settles, payments, as_of);
  auto report = [&](auto entry) {
    using Entry = decltype(entry);
    auto pass = [&](auto masked, auto check) {
      return open_invoices<Entry, decltype(masked)::value, decltype(check)::value>(
          invoice_ids, key, key_present, issued, due, amount, status, live_of, static_cast<uint32_t>(codes),
          invoices, paid, as_of);
    };
    using Yes = std::true_type;
    using No = std::false_type;
    const bool masked = key && key_present;
    OpenInvoices<Entry> open = masked ? (check ? pass(Yes{}, Yes{}) : pass(Yes{}, No{}))
                                      : (check ? pass(No{}, Yes{}) : pass(No{}, No{}));
    if (!open.ids_in_order) {
      std::fill(slots.begin(), slots.end(), 0.0);
      add_payments_by_id(paid, invoice_ids, invoices, pay_invoice, paid_at, settles, payments, as_of);
      open = masked ? pass(Yes{}, No{}) : pass(No{}, No{});
    }
    if (open.bad_status)  // the first bad row, named (the pass above only knows there is one)
      for (size_t i = 0; i < invoices; ++i)
        if (status[i] < -1 || status[i] >= codes)
          throw std::invalid_argument("aging: invoice row " + std::to_string(i) + " has status code " +
                                      std::to_string(status[i]));
    return aging_rows(open, paid, key, invoices);
  };
  return invoices < (size_t{1} << 29) ? report(uint32_t{}) : report(uint64_t{});
}

}  // namespace crmcore::sales
