// Commission rules in the write path: each band of a sale must find one rule,
// so two rules for the same partner, category (either may be "every") and
// tier (the band from `tier_from` on; none is 0) may not be in force on the
// same day, a rule's period must not end before it begins, and a band from a
// `tier_from` above 0 needs the entry rule of its scale (the same partner and
// category, no tier_from) in force beside it: without one, the sales below
// the lowest band would earn nothing, silently.
#include <cstdio>
#include <limits>

#include "../records/store_impl.hpp"
#include "crmcore/errors.hpp"
#include "crmcore/records/normalize.hpp"
#include "crmcore/stock/rules.hpp"

namespace crmcore::records {

namespace {

// Every band above 0 has an entry rule of its scale whose period meets its own.
void check_tier_entries(Store::Impl& impl) {
  const Dialect d(impl.db);
  sql::Statement& st = impl.prepared(
      "SELECT b.id, b.tier_from FROM commission_rules AS b WHERE coalesce(b.tier_from, 0) > 0 AND NOT EXISTS"
      " (SELECT 1 FROM commission_rules AS a WHERE a.partner_id" + std::string(d.is()) + "b.partner_id"
      " AND a.category" + d.is() + "b.category AND coalesce(a.tier_from, 0) = 0"
      " AND coalesce(a.valid_from, ?1) < coalesce(b.valid_until, ?2)"
      " AND coalesce(b.valid_from, ?1) < coalesce(a.valid_until, ?2)) ORDER BY b.id LIMIT 1");
  st.bind(1, std::numeric_limits<int64_t>::min()).bind(2, std::numeric_limits<int64_t>::max());
  if (!st.step()) {
    st.reset();
    return;
  }
  const int64_t id = st.int64(0);
  char from[32];
  std::snprintf(from, sizeof from, "%g", st.real(1));
  st.reset();
  throw ValidationError("commission_rules", -1, "tier_from",
                        std::string("a band from ") + from +
                            " needs the entry rule of its scale (the same partner and category, no tier_from) in "
                            "force with it; below the lowest band a scale would pay nothing",
                        id);
}

}  // namespace

void check_commission_rules(Store::Impl& impl) {
  constexpr const char* kRules = "commission_rules";
  {
    sql::Statement& st = impl.prepared(
        "SELECT id FROM commission_rules WHERE valid_from IS NOT NULL AND valid_until IS NOT NULL"
        " AND valid_until <= valid_from ORDER BY id LIMIT 1");
    if (st.step()) {
      const int64_t id = st.int64(0);
      st.reset();
      throw ValidationError(kRules, -1, "valid_until", "a rule's period ends after it begins", id);
    }
    st.reset();
  }
  // Periods are [valid_from, valid_until), open where a bound is missing.
  const Dialect d(impl.db);
  sql::Statement& st = impl.prepared(
      "SELECT a.id, b.id, " + d.greatest("coalesce(a.valid_from, ?1)", "coalesce(b.valid_from, ?1)") +
      " FROM commission_rules AS a JOIN commission_rules AS b ON a.id < b.id AND a.partner_id" + d.is() +
      "b.partner_id AND a.category" + d.is() + "b.category"
      " AND coalesce(a.tier_from, 0) = coalesce(b.tier_from, 0)"
      " AND coalesce(a.valid_from, ?1) < coalesce(b.valid_until, ?2)"
      " AND coalesce(b.valid_from, ?1) < coalesce(a.valid_until, ?2) ORDER BY b.id, a.id LIMIT 1");
  st.bind(1, std::numeric_limits<int64_t>::min()).bind(2, std::numeric_limits<int64_t>::max());
  if (!st.step()) {
    st.reset();
    check_tier_entries(impl);
    return;
  }
  const int64_t first = st.int64(0), second = st.int64(1), from = st.int64(2);
  st.reset();
  const std::string since = from == std::numeric_limits<int64_t>::min() ? "always" : "from " + format_time(from);
  throw ValidationError(kRules, -1, "valid_from",
                        "overlaps rule " + std::to_string(first) +
                            " (same partner, category and tier, both in force " + since + ")",
                        second);
}

}  // namespace crmcore::records
