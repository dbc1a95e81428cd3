#pragma once
// A store per case, on each engine: in memory on SQLite, a fresh schema of
// the suite's server (pg_server.hpp) on PostgreSQL; every case of a suite
// derived from this runs on both, so the engines are held to the same
// expectations. A suite: `class Mine : public pgtest::BothEngines {};`,
// TEST_P(Mine, ...), INSTANTIATE_TEST_SUITE_P(Engines, Mine, pgtest::kEngines).
#include <gtest/gtest.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "../columns.hpp"
#include "crmcore/records/store.hpp"
#include "pg_server.hpp"

namespace crmcore::pgtest {

inline const auto kEngines = ::testing::Values("sqlite", "postgresql");

// The column `name` of `t`; throws when it has none.
inline const records::Column& column(const records::Table& t, const std::string& name) {
  const records::Column* c = t.find(name);
  if (!c) throw std::runtime_error("no column " + name);
  return *c;
}

// Adds one record of `kind` with the values in `columns`; its id.
inline int64_t add(records::Store& s, const std::string& kind, std::vector<records::Column> columns) {
  return s.insert(kind, records::testing::table(std::move(columns))).ids.at(0);
}

class BothEngines : public ::testing::TestWithParam<const char*> {
 protected:
  static void SetUpTestSuite() {
    server_ = std::make_unique<PgServer>();
    if (!server_->start(&why_)) server_.reset();
  }
  static void TearDownTestSuite() { server_.reset(); }
  void SetUp() override {
    if (std::string(GetParam()) == "sqlite") {
      store_ = std::make_unique<records::Store>(":memory:");
      return;
    }
    if (!server_) GTEST_SKIP() << "PostgreSQL tests skipped: " << why_;
    url_ = url("r_" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    store_ = std::make_unique<records::Store>(url_);
  }
  // The URL of `schema` on the suite's server (dsn() is "host=H port=P
  // user=U dbname=D ...": the store wants a URL).
  static std::string url(std::string schema) {
    auto part = [](const std::string& key) {
      const std::string d = server_->dsn();
      const size_t at = d.find(key + "=") + key.size() + 1;
      return d.substr(at, d.find(' ', at) - at);
    };
    for (char& ch : schema)
      if (ch == '/') ch = '_';  // a parameterised case is "Name/1"
    return "postgresql://" + part("user") + "@" + part("host") + ":" + part("port") + "/" + part("dbname") +
           "?schema=" + schema;
  }
  bool on_postgres() const { return std::string(GetParam()) == "postgresql"; }
  records::Store& s() { return *store_; }
  // A second handle on the case's store (PostgreSQL: another session; SQLite: none, in memory).
  std::unique_ptr<records::Store> other() const { return std::make_unique<records::Store>(url_); }

  inline static std::unique_ptr<PgServer> server_;
  inline static std::string why_;
  std::string url_;
  std::unique_ptr<records::Store> store_;
};

}  // namespace crmcore::pgtest
