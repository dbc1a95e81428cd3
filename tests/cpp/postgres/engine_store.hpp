#pragma once
// A store per test case: in memory on SQLite, a fresh schema of the suite's
// server (pg_server.hpp) on PostgreSQL. A suite instantiated with the values
// "sqlite" and "postgresql" holds both engines to the same expectations.
#include <gtest/gtest.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "../columns.hpp"
#include "crmcore/records/store.hpp"
#include "pg_server.hpp"

namespace crmcore::records::testing {

inline const Column& column(const Table& t, const std::string& name) {
  const Column* c = t.find(name);
  if (!c) throw std::runtime_error("no column " + name);
  return *c;
}

// Adds one record of `kind` with the values in `columns`; its id.
inline int64_t add(Store& s, const std::string& kind, std::vector<Column> columns) {
  return s.insert(kind, table(std::move(columns))).ids.at(0);
}

class EngineStore : public ::testing::TestWithParam<const char*> {
 protected:
  static void SetUpTestSuite() {
    server_ = std::make_unique<pgtest::PgServer>();
    if (!server_->start(&why_)) server_.reset();
  }
  static void TearDownTestSuite() { server_.reset(); }
  void SetUp() override {
    if (std::string(GetParam()) == "sqlite") {
      store_ = std::make_unique<Store>(":memory:");
      return;
    }
    if (!server_) GTEST_SKIP() << "PostgreSQL tests skipped: " << why_;
    url_ = url("r_");
    store_ = std::make_unique<Store>(url_);
  }
  // A URL of a schema named after the running case, after `prefix`.
  static std::string url(const std::string& prefix) {
    // dsn() is "host=H port=P user=U dbname=D ...": the store wants a URL.
    auto part = [&](const std::string& key) {
      const std::string d = server_->dsn();
      const size_t at = d.find(key + "=") + key.size() + 1;
      return d.substr(at, d.find(' ', at) - at);
    };
    std::string schema = prefix + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name());
    for (char& ch : schema)
      if (ch == '/') ch = '_';  // a parameterised case is "Name/1"
    return "postgresql://" + part("user") + "@" + part("host") + ":" + part("port") + "/" + part("dbname") +
           "?schema=" + schema;
  }
  bool on_postgres() const { return std::string(GetParam()) == "postgresql"; }
  Store& s() { return *store_; }
  inline static std::unique_ptr<pgtest::PgServer> server_;
  inline static std::string why_;
  std::string url_;  // the store's, on PostgreSQL
  std::unique_ptr<Store> store_;
};

}  // namespace crmcore::records::testing
