#pragma once
// Sales reports over columns: time in stage, days late, first stage, win-rate
// counts and the forecast sums (grouped medians are scoring::group_stats). Deals and groups arrive as dense codes the
// caller made; times are nanoseconds since the epoch, durations come back in days.
#include <cstddef>
#include <cstdint>
#include <vector>

namespace crmcore::sales {

// How long each stage-history row lasted, in days: until the deal's next row,
// or until `as_of` for its last row at or before `as_of`. `deal[i]` is a code
// in [0, deals), `at[i]` when the row's stage began. Rows after `as_of` and
// rows with `terminal[i]` set (won, lost: the deal stays there for good) get
// NaN. Rows of one deal at the same instant order by their position in the
// input. Throws std::invalid_argument on a code out of range.
std::vector<double> stage_days(const int64_t* deal, const int64_t* at, const uint8_t* terminal, size_t rows,
                               int64_t deals, int64_t as_of);

// Days each deal is past its expected close on `as_of`: `open[i]` set and
// `expected[i]` before `as_of`, else NaN.
std::vector<double> days_late(const int64_t* expected, const uint8_t* open, size_t rows, int64_t as_of);

// The earliest time per deal code (INT64_MIN for a deal with no row).
std::vector<int64_t> first_at(const int64_t* deal, const int64_t* at, size_t rows, int64_t deals);

// Per group: the deals won (`outcome` 1) and lost (`outcome` 0); other
// outcomes (-1: still open) and group -1 count nowhere.
struct Outcomes {
  std::vector<int64_t> won, lost;
};
Outcomes win_loss(const int64_t* group, const int8_t* outcome, size_t rows, int64_t groups);

// The forecast of each group, in amounts: won (category 1), and among open
// deals (category 0) the pipeline, the probability-weighted pipeline, commit
// (probability >= `commit`) and best case (probability >= `best_case`, commit
// included). Lost deals (2) and group -1 count nowhere; a NaN amount counts 0.
struct Forecast {
  std::vector<int64_t> open_deals;
  std::vector<double> won, pipeline, weighted, commit, best_case;
};
Forecast forecast(const int64_t* group, const double* amount, const double* probability, const int8_t* category,
                  size_t rows, int64_t groups, double commit, double best_case);

// Sums of `value` over periods, for targets: for each target t, the sum of
// the rows with key `target_key[t]` and `start[t] <= at < end[t]`. Row keys
// are codes in [0, keys) or -1 (the row counts for no one); a target key of
// -1 gets 0. Rows at INT64_MIN (no time) and NaN values count nowhere.
// When every period is whole calendar months (targets' years, quarters and
// months) the rows are summed per key and month in one pass; otherwise they
// are grouped by key (a counting sort), each group sorted by time with
// running totals, and each target is two binary searches in its group.
std::vector<double> period_sums(const int64_t* key, const int64_t* at, const double* value, size_t rows,
                                int64_t keys, const int64_t* target_key, const int64_t* start, const int64_t* end,
                                size_t targets);

// period_sums with the times already whole months: `month[i]` the row's
// month as months since January 1970 (numpy's datetime64[M]; INT64_MIN for
// none) and each target [from[t], to[t]) in months. The caller computes the
// months once for every keying of the same rows (a person's, a team's).
std::vector<double> month_sums(const int64_t* key, const int64_t* month, const double* value, size_t rows,
                               int64_t keys, const int64_t* target_key, const int64_t* from, const int64_t* to,
                               size_t targets);

// The month of each time (ns) as months since January 1970 (numpy's
// datetime64[M]); INT64_MIN (no time) stays INT64_MIN.
std::vector<int64_t> months(const int64_t* at, size_t rows);

// The invoices open on `as_of`: issued by then (`issued`), `live` (neither
// draft nor void) and with a balance left after the payments made by then,
// beyond a billionth of the amount. Payments name their invoice by id
// (`pay_invoice`; one naming no invoice of `invoice_ids` counts nowhere)
// and settle `settles` at `paid_at`. For each open invoice: its position,
// paid, balance, days past due (0 when not yet due) and bucket (0 current,
// 1 up to 30 days, 2 up to 60, 3 up to 90, 4 beyond). Payments are summed
// per invoice in one pass, ids found through a table over their range (or
// a hash map when ids are sparse).
struct OpenBalances {
  std::vector<int64_t> rows;
  std::vector<double> paid, balance, days_late;
  std::vector<int64_t> bucket;
};
OpenBalances open_balances(const int64_t* invoice_ids, const int64_t* issued, const int64_t* due,
                           const double* amount, const uint8_t* live, size_t invoices, const int64_t* pay_invoice,
                           const int64_t* paid_at, const double* settles, size_t payments, int64_t as_of);

// The aging report itself: open_balances' open invoices (`live` given per
// invoice as a status code: `status[i]` indexes `status_live`, a code of -1
// is live) summed per group key and bucket. `key[i]` is the invoice's group
// (a customer or owner id), left out where `key_present[i]` is 0; null key:
// one group. Groups are the distinct keys of open invoices, ascending, with
// `sums` row-major groups x 6: the 5 buckets, then their total.
// `ids_in_order`: the caller knows that invoice_ids[i] is invoice_ids[0] + i
// (a pandas RangeIndex), so they are not read to check it.
struct Aging {
  std::vector<int64_t> keys;
  std::vector<double> sums;
};
Aging aging_groups(const int64_t* invoice_ids, const int64_t* key, const uint8_t* key_present, const int64_t* issued,
                   const int64_t* due, const double* amount, const int32_t* status,
                   const std::vector<uint8_t>& status_live, size_t invoices, const int64_t* pay_invoice,
                   const int64_t* paid_at, const double* settles, size_t payments, int64_t as_of,
                   bool ids_in_order = false);

}  // namespace crmcore::sales
