// The store's data mark and column cache (crmcore/records/column_cache.hpp),
// from C++ alone: what moves the mark, what the cache keeps and reads again,
// and conditions on cached columns against the store's own SQL (query).
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "columns.hpp"
#include "crmcore/records/column_cache.hpp"
#include "crmcore/records/normalize.hpp"
#include "crmcore/records/store.hpp"

using namespace crmcore::records;
using namespace crmcore::records::testing;

namespace {

Table customers() {
  Column region = text_column("region", {"East", "North", "", "East"});
  region.valid = {1, 1, 0, 1};
  Column tags = text_column("tags", {"vip;b2b", "b2b", "", "vip"});
  tags.valid = {1, 1, 0, 1};
  return table({text_column("name", {"a", "b", "c", "d"}), region, tags});
}

Condition cond(std::string field, Op op, Column values = Column()) { return {std::move(field), op, std::move(values)}; }

}  // namespace

TEST(ColumnCache, TheMarkMovesOnEachCommittedWriteAndBackOnARollback) {
  Store s(":memory:");
  const DataMark empty = s.data_mark();
  const auto ids = s.insert("customers", customers()).ids;
  const DataMark written = s.data_mark();
  EXPECT_NE(written, empty);
  s.select("customers");
  EXPECT_EQ(s.data_mark(), written);  // a read moves nothing
  s.begin();
  s.update("customers", ids[0], table({text_column("region", {"West"})}));
  const DataMark inside = s.data_mark();
  EXPECT_NE(inside, written);
  s.rollback();
  EXPECT_EQ(s.data_mark(), written);
  s.update("customers", ids[0], table({text_column("region", {"West"})}));
  EXPECT_EQ(s.data_mark().seq, inside.seq);  // the same audit number, another hash
  EXPECT_NE(s.data_mark(), inside);
}

TEST(ColumnCache, ColumnsAreReadOnceAndAgainAfterAWrite) {
  Store s(":memory:");
  const auto ids = s.insert("customers", customers()).ids;
  ColumnCache& cache = s.column_cache();
  auto first = cache.columns(s, "customers", {"region", "tags"});
  EXPECT_EQ(*first->ids, ids);
  const CachedColumn& region = first->at("region");
  ASSERT_EQ(region.type, CachedColumn::Type::Text);
  EXPECT_EQ(region.dictionary, (std::vector<std::string>{"East", "North"}));
  EXPECT_EQ(region.codes, (std::vector<int32_t>{0, 1, -1, 0}));
  const CachedColumn& tags = first->at("tags");
  EXPECT_EQ(tags.offsets, (std::vector<int64_t>{0, 2, 3, 3, 4}));
  const int64_t reads = cache.reads();
  auto again = cache.columns(s, "customers", {"region"});
  EXPECT_EQ(cache.reads(), reads);
  EXPECT_EQ(&again->at("region"), &region);  // the same memory
  s.update("customers", ids[2], table({text_column("region", {"South"})}));
  auto after = cache.columns(s, "customers", {"region"});
  EXPECT_GT(cache.reads(), reads);
  EXPECT_EQ(after->at("region").codes[2], 2);
  EXPECT_EQ(region.codes[2], -1);  // a snapshot handed out stays as it was
  cache.set_budget(0);
  EXPECT_EQ(cache.bytes(), 0u);
}

TEST(ColumnCache, ConditionsOnCachedColumnsGiveWhatTheStoreGives) {
  Store s(":memory:");
  s.insert("customers", customers());
  Column east = text_column("v", {"East"});
  Column east_or_missing = text_column("v", {"East", ""});
  east_or_missing.valid = {1, 0};
  const std::vector<AnyOf> filters = {
      {{cond("region", Op::Eq, east)}},
      {{cond("region", Op::Ne, east)}},
      {{cond("region", Op::In, east_or_missing)}},
      {{cond("region", Op::NotIn, east_or_missing)}},
      {{cond("region", Op::Missing)}},
      {{cond("region", Op::Ge, text_column("v", {"F"}))}},
      {{cond("tags", Op::AllTags, text_column("v", {"vip", "b2b"}))}, {cond("region", Op::Missing)}},
      {{cond("tags", Op::NoTag, text_column("v", {"vip"}))}},
      {{cond("id", Op::Gt, int_column("v", {2}))}},
  };
  for (const auto& f : filters) {
    auto got = cached_query(s, "customers", f);
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(*got, s.query("customers", f));
  }
  // Substrings and phone look-ups are the store's to answer.
  EXPECT_FALSE(cached_query(s, "customers", {{cond("name", Op::Contains, text_column("v", {"a"}))}}).has_value());
}

TEST(ColumnCache, ReadyAtTheSecondAskOrWhenKeptAtTheMark) {
  Store s(":memory:");
  const auto ids = s.insert("customers", customers()).ids;
  ColumnCache& cache = s.column_cache();
  EXPECT_FALSE(cache.ready(s, "customers", {"region"}));  // first ask at this mark: read narrowly
  EXPECT_TRUE(cache.ready(s, "customers", {"region"}));   // second: fill the cache
  EXPECT_FALSE(cache.ready(s, "orders", {"status"}));     // each kind on its own
  s.update("customers", ids[0], table({text_column("region", {"West"})}));
  EXPECT_FALSE(cache.ready(s, "customers", {"region"}));  // the mark moved
  cache.columns(s, "customers", {"region"});
  EXPECT_TRUE(cache.ready(s, "customers", {"region"}));   // kept at the mark
  EXPECT_TRUE(cache.ready(s, "customers", {"region"}));
  s.update("customers", ids[0], table({text_column("region", {"East"})}));
  cache.columns(s, "customers", {"region"});
  EXPECT_FALSE(cache.ready(s, "customers", {"region", "tags"}));  // tags not kept yet
}

TEST(ColumnCache, ReadColumnsCodesWhatSelectReads) {
  Store s(":memory:");
  s.insert("customers", customers());
  const std::vector<std::string> names{"tags", "region", "name"};
  const Table t = s.select("customers", nullptr, &names);
  const auto snap = s.read_columns("customers", names);
  ASSERT_EQ(*snap->ids, t.columns[0].ints);
  for (size_t c = 1; c < t.columns.size(); ++c) {
    const Column& col = t.columns[c];
    const CachedColumn& got = snap->at(col.name);
    for (size_t r = 0; r < col.size(); ++r) {
      if (col.name == "tags") {
        std::vector<std::string> want = col.present(r) ? split_tags(col.texts[r]) : std::vector<std::string>{};
        std::vector<std::string> have;
        for (int64_t i = got.offsets[r]; i < got.offsets[r + 1]; ++i)
          have.push_back(got.dictionary[static_cast<size_t>(got.codes[static_cast<size_t>(i)])]);
        EXPECT_EQ(have, want) << r;
      } else if (col.present(r)) {
        EXPECT_EQ(got.dictionary[static_cast<size_t>(got.codes[r])], col.texts[r]) << col.name << r;
      } else {
        EXPECT_EQ(got.codes[r], -1) << col.name << r;
      }
    }
  }
}
