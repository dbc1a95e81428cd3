// The backend boundary's SQLite side and the SQL text helpers. The same
// cases as tests/cpp/postgres/ where they apply, so both engines answer alike.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include "crmcore/backend/backend.hpp"

using namespace crmcore;
using namespace crmcore::backend;

namespace {

TEST(Placeholders, AreNumberedOutsideLiteralsCommentsAndQuotedNames) {
  int n = -1;
  EXPECT_EQ(number_placeholders("SELECT ?, ? FROM t WHERE a = ?", &n), "SELECT $1, $2 FROM t WHERE a = $3");
  EXPECT_EQ(n, 3);
  EXPECT_EQ(number_placeholders("SELECT '?', 'it''s ?', ?", &n), "SELECT '?', 'it''s ?', $1");
  EXPECT_EQ(number_placeholders("SELECT \"a?\" FROM t -- why?\nWHERE ? /* ? */", &n),
            "SELECT \"a?\" FROM t -- why?\nWHERE $1 /* ? */");
  EXPECT_EQ(number_placeholders("SELECT E'\\'?', ?, $$?$$, $tag$ ? $tag$, ?", &n),
            "SELECT E'\\'?', $1, $$?$$, $tag$ ? $tag$, $2");
  EXPECT_EQ(n, 2);
  // "name'" is not an E-string: the backslash there is an ordinary character.
  EXPECT_EQ(number_placeholders("SELECT name'\\', ?", &n), "SELECT name'\\', $1");
  // $1 already numbered is a parameter reference, not a dollar quote.
  EXPECT_EQ(number_placeholders("SELECT $1, ?", &n), "SELECT $1, $1");
  // Numbered as SQLite numbers them: ?NNN is parameter NNN, reused freely; a
  // bare ? follows the largest so far.
  EXPECT_EQ(number_placeholders("UPDATE t SET a = ?1 WHERE k = ?2 AND j = ?1 OR x = ?", &n),
            "UPDATE t SET a = $1 WHERE k = $2 AND j = $1 OR x = $3");
  EXPECT_EQ(n, 3);
  EXPECT_EQ(number_placeholders("VALUES(?12, ?)", &n), "VALUES($12, $13)");
  EXPECT_EQ(n, 13);
  EXPECT_EQ(number_placeholders("SELECT 'open ?", &n), "SELECT 'open ?");
  EXPECT_EQ(n, 0);
}

TEST(Identifiers, OnlyPlainNamesPass) {
  EXPECT_NO_THROW(check_identifier("customer_2"));
  for (const char* bad : {"", "2x", "a b", "a;b", "a\"b", "ä"})
    EXPECT_THROW(check_identifier(bad), std::invalid_argument) << bad;
}

class SqliteBackend : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = (std::filesystem::temp_directory_path() /
             ("crmcore-backend-" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) +
              ".db"))
                .string();
    std::filesystem::remove(path_);
    conn_ = open_sqlite(path_);
  }
  void TearDown() override {
    conn_.reset();
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path_ + suffix);
  }
  int64_t scalar(const std::string& sql) {
    auto st = conn_->prepare(sql);
    EXPECT_TRUE(st->step());
    return st->int64(0);
  }
  std::string path_;
  std::unique_ptr<Connection> conn_;
};

TEST_F(SqliteBackend, EveryTypeRoundTrips) {
  conn_->exec("CREATE TABLE v (id INTEGER PRIMARY KEY, i INTEGER, d REAL, t TEXT)");
  auto ins = conn_->prepare("INSERT INTO v VALUES (?, ?, ?, ?)");
  ins->bind_int64(1, 1);
  ins->bind_int64(2, std::numeric_limits<int64_t>::min());
  ins->bind_double(3, -std::numeric_limits<double>::infinity());
  {
    std::string temporary = "Zoë 张伟 😀";
    ins->bind_text(4, temporary);
  }  // gone before the step: the adapter keeps its own copy
  ins->run();
  EXPECT_EQ(ins->changes(), 1);  // the last run's, still there after its reset
  ins->bind_int64(1, 2);
  ins->bind_null(2);
  ins->bind_null(3);
  ins->bind_null(4);
  EXPECT_FALSE(ins->step());
  EXPECT_EQ(ins->changes(), 1);
  ins->reset();
  auto sel = conn_->prepare("SELECT i, d, t FROM v ORDER BY id");
  ASSERT_TRUE(sel->step());
  EXPECT_EQ(sel->columns(), 3);
  EXPECT_EQ(sel->int64(0), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(sel->real(1), -std::numeric_limits<double>::infinity());
  EXPECT_EQ(sel->text(2), "Zoë 张伟 😀");
  ASSERT_TRUE(sel->step());
  EXPECT_TRUE(sel->is_null(0) && sel->is_null(1) && sel->is_null(2));
  EXPECT_FALSE(sel->step());
}

TEST_F(SqliteBackend, ConstraintsAreReportedWithTheirSqlstate) {
  conn_->exec("PRAGMA foreign_keys=ON; CREATE TABLE p (id INTEGER PRIMARY KEY, email TEXT UNIQUE);"
              "CREATE TABLE ch (p INTEGER REFERENCES p(id))");
  conn_->exec("INSERT INTO p VALUES (1, 'a')");
  auto ins = conn_->prepare("INSERT INTO p VALUES (?, ?)");
  ins->bind_int64(1, 2);
  ins->bind_text(2, "a");
  try {
    ins->run();
    FAIL() << "no error";
  } catch (const ConstraintViolation& e) {
    EXPECT_EQ(e.sqlstate(), "23505");
    EXPECT_EQ(e.kind(), "p");  // read from SQLite's message, which names no constraint
    EXPECT_EQ(e.field(), "email");
    EXPECT_NE(conn_->last_error().find("UNIQUE"), std::string::npos) << conn_->last_error();
  }
  auto fk = conn_->prepare("INSERT INTO ch VALUES (?)");
  fk->bind_int64(1, 9);
  try {
    fk->run();
    FAIL() << "no error";
  } catch (const ConstraintViolation& e) {
    EXPECT_EQ(e.sqlstate(), "23503");
  }
}

TEST_F(SqliteBackend, BulkLoadsRollBackWithTheTransaction) {
  conn_->exec("CREATE TABLE c (i INTEGER, d REAL, t TEXT)");
  const size_t n = 10000;
  std::vector<int64_t> ints(n);
  std::vector<double> reals(n);
  std::vector<std::string> texts(n);
  std::vector<uint8_t> nulls(n);
  for (size_t k = 0; k < n; ++k) {
    ints[k] = static_cast<int64_t>(k);
    reals[k] = 0.5 * static_cast<double>(k);
    texts[k] = "r" + std::to_string(k);
    nulls[k] = k % 10 == 0;
  }
  for (bool keep : {false, true}) {
    conn_->begin();
    auto loader =
        conn_->bulk_loader("c", {"i", "d", "t"}, {ColumnType::Int64, ColumnType::Double, ColumnType::Text});
    loader->append({ColumnView::of(ints), ColumnView::of(reals), ColumnView::of(texts, &nulls)}, n);
    EXPECT_EQ(loader->finish(), static_cast<int64_t>(n));
    keep ? conn_->commit() : conn_->rollback();
    EXPECT_EQ(scalar("SELECT count(*) FROM c"), keep ? static_cast<int64_t>(n) : 0);
  }
  const int64_t nn = static_cast<int64_t>(n);
  EXPECT_EQ(scalar("SELECT sum(i) FROM c"), nn * (nn - 1) / 2);
  EXPECT_EQ(scalar("SELECT CAST(sum(d) * 2 AS INTEGER) FROM c"), nn * (nn - 1) / 2);
  EXPECT_EQ(scalar("SELECT count(*) FROM c WHERE t IS NULL"), nn / 10);
  EXPECT_THROW(conn_->bulk_loader("c; DROP TABLE c", {"i"}, {ColumnType::Int64}), std::invalid_argument);
}

TEST_F(SqliteBackend, SavepointsUndoOnlyWhatFollowsThem) {
  conn_->exec("CREATE TABLE r (i INTEGER)");
  conn_->begin();
  conn_->exec("INSERT INTO r VALUES (1)");
  conn_->savepoint("sp");
  conn_->exec("INSERT INTO r VALUES (2)");
  conn_->rollback_to("sp");
  conn_->release("sp");
  conn_->commit();
  EXPECT_EQ(scalar("SELECT sum(i) FROM r"), 1);
}

TEST_F(SqliteBackend, ABusyDatabaseIsRetryable) {
  auto other = open_sqlite(path_);
  other->exec("PRAGMA busy_timeout=0");
  conn_->exec("CREATE TABLE b (i INTEGER)");
  conn_->begin();
  conn_->exec("INSERT INTO b VALUES (1)");
  try {
    other->begin();
    FAIL() << "no error";
  } catch (const BackendError& e) {
    EXPECT_TRUE(e.retryable()) << e.what();
    EXPECT_NE(std::string(e.what()).find("locked"), std::string::npos) << e.what();
  }
  conn_->rollback();
}

TEST(Postgres, ABuildWithoutLibpqSaysSo) {
  if (have_postgres()) GTEST_SKIP() << "this build has libpq";
  EXPECT_THROW(open_postgres("host=127.0.0.1"), BackendError);
}

}  // namespace
