#pragma once
// The suites' servers (pg_server.hpp), and a store per test case: in memory
// on SQLite, a fresh schema of the suite's server on PostgreSQL. A suite instantiated with the values
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

// A suite with a server of its own, started before its first case: none
// (and the reason in why_) when it cannot start, and its cases skip.
template <class Base = ::testing::Test>
class WithServer : public Base {
 protected:
  static void SetUpTestSuite() {
    server_ = std::make_unique<pgtest::PgServer>();
    if (!server_->start(&why_)) server_.reset();
  }
  static void TearDownTestSuite() { server_.reset(); }
  inline static std::unique_ptr<pgtest::PgServer> server_;
  inline static std::string why_;
};

class EngineStore : public WithServer<::testing::TestWithParam<const char*>> {
 protected:
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
  std::string url_;  // the store's, on PostgreSQL
  std::unique_ptr<Store> store_;
};

}  // namespace crmcore::records::testing
