// OnError::Skip against the rules that judge a write once its rows are
// written (records/row_verdicts.hpp): the row a rule refuses is dropped
// alone and reported in the caller's numbering; the others land.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "columns.hpp"
#include "crmcore/errors.hpp"
#include "crmcore/records/store.hpp"

using namespace crmcore::records;
using namespace crmcore::records::testing;

namespace {

Table movements(int64_t product, int64_t location, std::vector<std::string> types, std::vector<double> quantities,
                std::vector<std::string> days) {
  const size_t n = types.size();
  return table({text_column("type", std::move(types)), int_column("product_id", std::vector<int64_t>(n, product)),
                int_column("location_id", std::vector<int64_t>(n, location)),
                real_column("quantity", std::move(quantities)), text_column("moved_at", std::move(days))});
}

}  // namespace

TEST(RowVerdicts, ASkippedImportDropsTheMovementsTheStockRulesRefuse) {
  Store s(":memory:");
  const int64_t north = s.insert("locations", table({text_column("name", {"North"})})).ids.at(0);
  const int64_t tea = s.insert("products", table({text_column("sku", {"TEA"}), text_column("name", {"Tea"})})).ids.at(0);
  // A bad type (refused while staging), a shipment beyond stock, an
  // adjustment without a reason, then a shipment that fits.
  const Table rows = movements(tea, north, {"receipt", "gift", "shipment", "adjustment", "shipment"},
                               {5, 1, 9, 2, 4}, {"2025-01-01", "2025-01-02", "2025-01-03", "2025-01-04", "2025-01-05"});
  EXPECT_THROW(s.insert("stock_movements", rows), crmcore::ValidationError);
  EXPECT_EQ(s.count("stock_movements"), 0);

  const WriteResult r = s.insert("stock_movements", rows, OnError::Skip);
  ASSERT_EQ(r.ids.size(), 5u);
  EXPECT_GE(r.ids[0], 0);
  EXPECT_EQ(r.ids[1], -1);
  EXPECT_EQ(r.ids[2], -1);
  EXPECT_EQ(r.ids[3], -1);
  EXPECT_EQ(r.ids[4], r.ids[0] + 1);  // the rows that landed were written once, with consecutive ids
  ASSERT_EQ(r.errors.size(), 3u);
  EXPECT_EQ(r.errors[0].row, 1);
  EXPECT_EQ(r.errors[0].field, "type");
  EXPECT_EQ(r.errors[1].row, 2);
  EXPECT_EQ(r.errors[1].field, "quantity");
  EXPECT_NE(r.errors[1].reason.find("would hold -4"), std::string::npos) << r.errors[1].reason;
  EXPECT_EQ(r.errors[2].row, 3);
  EXPECT_EQ(r.errors[2].field, "reason");
  EXPECT_EQ(s.count("stock_movements"), 2);

  // One audit entry for the movements, naming the two that landed.
  const Table log = s.audit_log(10);
  int entries = 0;
  for (size_t i = 0; i < log.rows(); ++i) {
    if (log.find("kind")->texts[i] != "stock_movements") continue;
    ++entries;
    EXPECT_EQ(log.find("rows")->ints[i], 2);
    EXPECT_EQ(log.find("first_id")->ints[i], r.ids[0]);
    EXPECT_EQ(log.find("last_id")->ints[i], r.ids[4]);
  }
  EXPECT_EQ(entries, 1);
  EXPECT_TRUE(s.audit_check().empty());
}
