// The PostgreSQL backend against a real server started by pg_server.hpp.
// Every expectation is a value computed here independently of the backend
// (closed-form sums, literal values), or the server's own view of the data.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "crmcore/backend/backend.hpp"
#include "pg_server.hpp"

using namespace crmcore;
using namespace crmcore::backend;

namespace {

// One server for the whole executable; skipped cases when there is none.
class Pg : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = std::make_unique<pgtest::PgServer>();
    if (!server_->start(&why_)) server_.reset();
  }
  static void TearDownTestSuite() { server_.reset(); }
  void SetUp() override {
    if (!server_) GTEST_SKIP() << "PostgreSQL tests skipped: " << why_;
    conn_ = open_postgres(server_->dsn());
    // Each case its own schema, so that cases never see each other's tables.
    schema_ = "t_" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name());
    conn_->exec("DROP SCHEMA IF EXISTS " + schema_ + " CASCADE; CREATE SCHEMA " + schema_ + "; SET search_path TO " +
                schema_);
  }
  std::unique_ptr<Connection> second() {
    auto c = open_postgres(server_->dsn());
    c->exec("SET search_path TO " + schema_);
    return c;
  }
  int64_t scalar(Connection& c, const std::string& sql) {
    auto st = c.prepare(sql);
    EXPECT_TRUE(st->step());
    return st->int64(0);
  }
  static std::unique_ptr<pgtest::PgServer> server_;
  static std::string why_;
  std::unique_ptr<Connection> conn_;
  std::string schema_;
};
std::unique_ptr<pgtest::PgServer> Pg::server_;
std::string Pg::why_;

TEST_F(Pg, EveryTypeRoundTripsThroughParameters) {
  conn_->exec("CREATE TABLE v (id int8 PRIMARY KEY, i int8, d float8, t text)");
  const double inf = std::numeric_limits<double>::infinity();
  struct Row {
    int64_t i;
    double d;
    std::string t;
  };
  std::vector<Row> rows = {{std::numeric_limits<int64_t>::max(), 0.1, "Zoë 张伟 😀"},
                           {std::numeric_limits<int64_t>::min(), -inf, ""},
                           {-1, inf, "it's a \"quote\" ? and $1"},
                           {0, 5e-324, std::string(10000, 'x')},
                           {42, std::numeric_limits<double>::quiet_NaN(), "Ελληνικά"}};
  auto ins = conn_->prepare("INSERT INTO v (id, i, d, t) VALUES (?, ?, ?, ?)");
  for (size_t k = 0; k < rows.size(); ++k) {
    ins->bind_int64(1, static_cast<int64_t>(k));
    ins->bind_int64(2, rows[k].i);
    ins->bind_double(3, rows[k].d);
    ins->bind_text(4, rows[k].t);
    ins->run();
  }
  ins->bind_int64(1, 99);
  ins->bind_null(2);
  ins->bind_null(3);
  ins->bind_null(4);
  ins->run();

  auto sel = conn_->prepare("SELECT i, d, t FROM v WHERE id = ?");
  for (size_t k = 0; k < rows.size(); ++k) {
    sel->bind_int64(1, static_cast<int64_t>(k));
    ASSERT_TRUE(sel->step());
    EXPECT_EQ(sel->int64(0), rows[k].i);
    if (std::isnan(rows[k].d))
      EXPECT_TRUE(std::isnan(sel->real(1)));
    else
      EXPECT_EQ(sel->real(1), rows[k].d);  // exact: PostgreSQL prints floats round-trip
    EXPECT_EQ(sel->text(2), rows[k].t);
    EXPECT_FALSE(sel->step());
    sel->reset();
  }
  sel->bind_int64(1, 99);
  ASSERT_TRUE(sel->step());
  EXPECT_TRUE(sel->is_null(0));
  EXPECT_TRUE(sel->is_null(1));
  EXPECT_TRUE(sel->is_null(2));
  // The server agrees on the values it holds (not only our reading of them).
  EXPECT_EQ(scalar(*conn_, "SELECT count(*) FROM v WHERE i = 9223372036854775807 AND t = 'Zoë 张伟 😀'"), 1);
  EXPECT_EQ(scalar(*conn_, "SELECT count(*) FROM v WHERE d = 'Infinity'::float8 AND i = -1"), 1);
  EXPECT_EQ(scalar(*conn_, "SELECT count(*) FROM v WHERE d = 'NaN'::float8"), 1);
}

TEST_F(Pg, TextWithANulIsRefusedBeforeTheServer) {
  auto st = conn_->prepare("SELECT ?");
  EXPECT_THROW(st->bind_text(1, std::string("a\0b", 3)), ValidationError);
}

TEST_F(Pg, PlaceholdersInsideLiteralsAreLeftAlone) {
  auto st = conn_->prepare(
      "SELECT '?' || ? || 'it''s ?' || E'\\'?' || $$?$$ || $q$ ? $q$ || \"?col\" -- what?\n"
      " FROM (SELECT 'x' AS \"?col\") s /* ? */ WHERE ? = 1");
  st->bind_text(1, "A");
  st->bind_int64(2, 1);
  ASSERT_TRUE(st->step());
  EXPECT_EQ(st->text(0), "?Ait's ?'?? ? x");
  EXPECT_EQ(st->columns(), 1);
}

TEST_F(Pg, NumberedPlaceholdersAreReusedAsOnSqlite) {
  // The store's own SQL reuses ?1 (catalog.cpp, import.cpp): one bound value, two uses.
  auto st = conn_->prepare("SELECT ?1 || '-' || ?2 || '-' || ?1");
  st->bind_text(1, "a");
  st->bind_text(2, "b");
  ASSERT_TRUE(st->step());
  EXPECT_EQ(st->text(0), "a-b-a");
}

TEST_F(Pg, CopiesAMillionRowsInBinary) {
  conn_->exec("CREATE TABLE c (i int8, d float8, t text)");
  const size_t n = 1000000, batch = 100000;
  auto loader = conn_->bulk_loader("c", {"i", "d", "t"}, {ColumnType::Int64, ColumnType::Double, ColumnType::Text});
  std::vector<int64_t> ints(batch);
  std::vector<double> reals(batch);
  std::vector<std::string> texts(batch);
  std::vector<uint8_t> nulls(batch, 0);
  for (size_t start = 0; start < n; start += batch) {
    for (size_t k = 0; k < batch; ++k) {
      int64_t v = static_cast<int64_t>(start + k);
      ints[k] = v - 500000;        // negative values test the sign in network order
      reals[k] = 0.5 * static_cast<double>(v);  // exact in binary, so sums are exact
      texts[k] = "r" + std::to_string(v);
      nulls[k] = (v % 1000) == 0;  // every thousandth text is NULL
    }
    loader->append({ColumnView::of(ints), ColumnView::of(reals), ColumnView::of(texts, &nulls)}, batch);
  }
  EXPECT_EQ(loader->finish(), static_cast<int64_t>(n));
  // Closed forms: sum(v - 500000) over 0..n-1 = n(n-1)/2 - 500000 n.
  const int64_t nn = static_cast<int64_t>(n);
  EXPECT_EQ(scalar(*conn_, "SELECT count(*) FROM c"), nn);
  EXPECT_EQ(scalar(*conn_, "SELECT sum(i)::int8 FROM c"), nn * (nn - 1) / 2 - 500000 * nn);
  EXPECT_EQ(scalar(*conn_, "SELECT (sum(d) * 2)::int8 FROM c"), nn * (nn - 1) / 2);
  EXPECT_EQ(scalar(*conn_, "SELECT count(*) FROM c WHERE t IS NULL"), nn / 1000);
  EXPECT_EQ(scalar(*conn_, "SELECT count(*) FROM c WHERE t = 'r' || (i + 500000)::text"), nn - nn / 1000);
}

TEST_F(Pg, AnAbandonedCopyLoadsNothingAndTheConnectionGoesOn) {
  conn_->exec("CREATE TABLE c (i int8)");
  {
    auto loader = conn_->bulk_loader("c", {"i"}, {ColumnType::Int64});
    std::vector<int64_t> v = {1, 2, 3};
    loader->append({ColumnView::of(v)}, v.size());
  }
  EXPECT_EQ(scalar(*conn_, "SELECT count(*) FROM c"), 0);
}

TEST_F(Pg, ARowRefusedByTheLoaderLeavesTheRowsBeforeIt) {
  conn_->exec("CREATE TABLE c (i int8, t text)");
  auto loader = conn_->bulk_loader("c", {"i", "t"}, {ColumnType::Int64, ColumnType::Text});
  std::vector<int64_t> ints = {1, 2, 3};
  std::vector<std::string> texts = {"a", std::string("b\0c", 3), "d"};
  EXPECT_THROW(loader->append({ColumnView::of(ints), ColumnView::of(texts)}, 3), ValidationError);
  EXPECT_EQ(loader->finish(), 1);  // row 1 went in whole; row 2 left no half-written bytes
  EXPECT_EQ(scalar(*conn_, "SELECT sum(i)::int8 FROM c WHERE t = 'a'"), 1);
}

TEST_F(Pg, AUniqueViolationNamesItsConstraint) {
  conn_->exec("CREATE TABLE u (id int8, email text CONSTRAINT u_email_key UNIQUE)");
  auto ins = conn_->prepare("INSERT INTO u (id, email) VALUES (?, ?)");
  ins->bind_int64(1, 1);
  ins->bind_text(2, "a@example.com");
  ins->run();
  ins->bind_int64(1, 2);
  ins->bind_text(2, "a@example.com");
  try {
    ins->run();
    FAIL() << "no error";
  } catch (const ConstraintViolation& e) {
    EXPECT_EQ(e.sqlstate(), "23505");
    EXPECT_EQ(e.constraint(), "u_email_key");
    EXPECT_EQ(e.kind(), "u");
    EXPECT_NE(std::string(e.what()).find("unique violation"), std::string::npos) << e.what();
    EXPECT_NE(conn_->last_error().find("u_email_key"), std::string::npos) << conn_->last_error();
  }
}

TEST_F(Pg, AForeignKeyViolationFromCopyIsNamedToo) {
  conn_->exec("CREATE TABLE p (id int8 PRIMARY KEY); CREATE TABLE ch (p int8 CONSTRAINT ch_p_fk REFERENCES p)");
  auto loader = conn_->bulk_loader("ch", {"p"}, {ColumnType::Int64});
  std::vector<int64_t> v = {7};
  loader->append({ColumnView::of(v)}, 1);
  try {
    loader->finish();
    FAIL() << "no error";
  } catch (const ConstraintViolation& e) {
    EXPECT_EQ(e.sqlstate(), "23503");
    EXPECT_EQ(e.constraint(), "ch_p_fk");
  }
}

TEST_F(Pg, UncommittedRowsAreInvisibleToAnotherConnection) {
  conn_->exec("CREATE TABLE w (i int8)");
  auto other = second();
  conn_->begin();
  auto ins = conn_->prepare("INSERT INTO w VALUES (?)");
  ins->bind_int64(1, 5);
  ins->run();
  EXPECT_EQ(ins->changes(), 1);
  EXPECT_EQ(scalar(*conn_, "SELECT count(*) FROM w"), 1);
  EXPECT_EQ(scalar(*other, "SELECT count(*) FROM w"), 0);
  conn_->commit();
  EXPECT_EQ(scalar(*other, "SELECT count(*) FROM w"), 1);
}

TEST_F(Pg, RollbackAndSavepointsUndoTheirWrites) {
  conn_->exec("CREATE TABLE r (i int8)");
  conn_->begin();
  auto loader = conn_->bulk_loader("r", {"i"}, {ColumnType::Int64});
  std::vector<int64_t> v = {1, 2, 3};
  loader->append({ColumnView::of(v)}, v.size());
  EXPECT_EQ(loader->finish(), 3);
  conn_->rollback();
  EXPECT_EQ(scalar(*conn_, "SELECT count(*) FROM r"), 0);

  conn_->begin();
  conn_->exec("INSERT INTO r VALUES (1)");
  conn_->savepoint("sp");
  conn_->exec("INSERT INTO r VALUES (2)");
  conn_->rollback_to("sp");
  conn_->release("sp");
  conn_->commit();
  EXPECT_EQ(scalar(*conn_, "SELECT sum(i)::int8 FROM r"), 1);
  EXPECT_THROW(conn_->savepoint("x; DROP TABLE r"), std::invalid_argument);
}

TEST_F(Pg, ASerializationFailureIsRetryable) {
  conn_->exec("CREATE TABLE s (id int8 PRIMARY KEY, n int8); INSERT INTO s VALUES (1, 0)");
  auto other = second();
  conn_->exec("BEGIN ISOLATION LEVEL SERIALIZABLE");
  other->exec("BEGIN ISOLATION LEVEL SERIALIZABLE");
  EXPECT_EQ(scalar(*conn_, "SELECT n FROM s WHERE id = 1"), 0);
  EXPECT_EQ(scalar(*other, "SELECT n FROM s WHERE id = 1"), 0);
  other->exec("UPDATE s SET n = n + 1 WHERE id = 1");
  other->commit();
  try {
    conn_->exec("UPDATE s SET n = n + 1 WHERE id = 1");
    FAIL() << "no error";
  } catch (const BackendError& e) {
    EXPECT_EQ(e.sqlstate(), "40001");
    EXPECT_TRUE(e.retryable());
  }
  conn_->rollback();
}

TEST_F(Pg, OtherErrorsCarryTheirSqlstate) {
  try {
    conn_->exec("SELECT * FROM no_such_table");
    FAIL() << "no error";
  } catch (const BackendError& e) {
    EXPECT_EQ(e.sqlstate(), "42P01");
    EXPECT_FALSE(e.retryable());
  }
  EXPECT_THROW(open_postgres("host=127.0.0.1 port=1 connect_timeout=2"), BackendError);
}

}  // namespace
