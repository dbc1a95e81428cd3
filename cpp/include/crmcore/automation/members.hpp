#pragma once
// Membership kernels over the points ledger's columns: balances on a date,
// points that expire (earned lots are used oldest first), and tiers by
// thresholds. Rows name their member by position (0..members-1); no row
// order is assumed.
#include <cstddef>
#include <cstdint>
#include <vector>

namespace crmcore::automation {

// Each member's balance on `as_of`: the sum of the points of its entries
// dated at or before it.
std::vector<double> points_balance(const int64_t* member, const int64_t* at, const double* points, size_t n,
                                   int64_t members, int64_t as_of);

// The points each member loses on `as_of`: what remains of earned lots
// (positive entries with an expiry at or before `as_of`) once the negative
// entries (redemptions, earlier expiries), taken in date order, have used the
// oldest lots first. `expires_at` is ignored for negative entries; a
// missing expiry is given as INT64_MAX. Entries after `as_of` are not seen.
std::vector<double> points_expiring(const int64_t* member, const int64_t* at, const double* points,
                                    const int64_t* expires_at, size_t n, int64_t members, int64_t as_of);

// The tier of each value: the index of the highest threshold it reaches
// (thresholds ascending), or -1 below the first.
std::vector<int32_t> tier_of(const double* values, size_t n, const double* thresholds, size_t tiers);

}  // namespace crmcore::automation
