// The store when things go wrong underneath it: a disk that fills up while a
// transaction commits, a read stopped half-way, numbers and JSON that are not
// what they seem.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <atomic>
#include <cstdio>
#include <string>

#include "crmcore/cancel.hpp"
#include "crmcore/errors.hpp"
#include "crmcore/records/normalize.hpp"
#include "crmcore/records/store.hpp"

using namespace crmcore;
using namespace crmcore::records;

namespace {

// A VFS over the default one whose file writes fail with SQLITE_FULL while
// `full` is set: a disk that fills up at the worst moment.
std::atomic<bool> full{false};
sqlite3_vfs* real_vfs = nullptr;
sqlite3_vfs full_disk_vfs;

struct FaultFile {
  sqlite3_file base;
  sqlite3_file* real;
};

sqlite3_io_methods fault_methods;

int fault_write(sqlite3_file* f, const void* data, int n, sqlite3_int64 offset) {
  if (full) return SQLITE_FULL;
  auto* real = reinterpret_cast<FaultFile*>(f)->real;
  return real->pMethods->xWrite(real, data, n, offset);
}

int fault_open(sqlite3_vfs*, const char* name, sqlite3_file* file, int flags, int* out_flags) {
  auto* ff = reinterpret_cast<FaultFile*>(file);
  ff->real = static_cast<sqlite3_file*>(sqlite3_malloc(real_vfs->szOsFile));
  int rc = real_vfs->xOpen(real_vfs, name, ff->real, flags, out_flags);
  if (rc != SQLITE_OK) {
    sqlite3_free(ff->real);
    ff->base.pMethods = nullptr;
    return rc;
  }
  // Every method passes through but xWrite; xClose frees the real file.
  static bool ready = false;
  if (!ready) {
    fault_methods = *ff->real->pMethods;
    fault_methods.xClose = [](sqlite3_file* f) {
      auto* real = reinterpret_cast<FaultFile*>(f)->real;
      int rc = real->pMethods->xClose(real);
      sqlite3_free(real);
      return rc;
    };
    fault_methods.xRead = [](sqlite3_file* f, void* d, int n, sqlite3_int64 o) {
      auto* real = reinterpret_cast<FaultFile*>(f)->real;
      return real->pMethods->xRead(real, d, n, o);
    };
    fault_methods.xWrite = fault_write;
    fault_methods.xTruncate = [](sqlite3_file* f, sqlite3_int64 size) {
      auto* real = reinterpret_cast<FaultFile*>(f)->real;
      return real->pMethods->xTruncate(real, size);
    };
    fault_methods.xSync = [](sqlite3_file* f, int flags) {
      if (full) return SQLITE_FULL;
      auto* real = reinterpret_cast<FaultFile*>(f)->real;
      return real->pMethods->xSync(real, flags);
    };
    fault_methods.xFileSize = [](sqlite3_file* f, sqlite3_int64* size) {
      auto* real = reinterpret_cast<FaultFile*>(f)->real;
      return real->pMethods->xFileSize(real, size);
    };
    fault_methods.xLock = [](sqlite3_file* f, int level) {
      auto* real = reinterpret_cast<FaultFile*>(f)->real;
      return real->pMethods->xLock(real, level);
    };
    fault_methods.xUnlock = [](sqlite3_file* f, int level) {
      auto* real = reinterpret_cast<FaultFile*>(f)->real;
      return real->pMethods->xUnlock(real, level);
    };
    fault_methods.xCheckReservedLock = [](sqlite3_file* f, int* out) {
      auto* real = reinterpret_cast<FaultFile*>(f)->real;
      return real->pMethods->xCheckReservedLock(real, out);
    };
    fault_methods.xFileControl = [](sqlite3_file* f, int op, void* arg) {
      auto* real = reinterpret_cast<FaultFile*>(f)->real;
      return real->pMethods->xFileControl(real, op, arg);
    };
    fault_methods.xSectorSize = [](sqlite3_file* f) {
      auto* real = reinterpret_cast<FaultFile*>(f)->real;
      return real->pMethods->xSectorSize(real);
    };
    fault_methods.xDeviceCharacteristics = [](sqlite3_file* f) {
      auto* real = reinterpret_cast<FaultFile*>(f)->real;
      return real->pMethods->xDeviceCharacteristics(real);
    };
    // WAL's shared memory, and memory-mapped pages.
    fault_methods.xShmMap = [](sqlite3_file* f, int page, int size, int extend, void volatile** out) {
      auto* real = reinterpret_cast<FaultFile*>(f)->real;
      return real->pMethods->xShmMap(real, page, size, extend, out);
    };
    fault_methods.xShmLock = [](sqlite3_file* f, int offset, int n, int flags) {
      auto* real = reinterpret_cast<FaultFile*>(f)->real;
      return real->pMethods->xShmLock(real, offset, n, flags);
    };
    fault_methods.xShmBarrier = [](sqlite3_file* f) {
      auto* real = reinterpret_cast<FaultFile*>(f)->real;
      real->pMethods->xShmBarrier(real);
    };
    fault_methods.xShmUnmap = [](sqlite3_file* f, int del) {
      auto* real = reinterpret_cast<FaultFile*>(f)->real;
      return real->pMethods->xShmUnmap(real, del);
    };
    fault_methods.xFetch = [](sqlite3_file* f, sqlite3_int64 offset, int n, void** out) {
      auto* real = reinterpret_cast<FaultFile*>(f)->real;
      return real->pMethods->xFetch(real, offset, n, out);
    };
    fault_methods.xUnfetch = [](sqlite3_file* f, sqlite3_int64 offset, void* p) {
      auto* real = reinterpret_cast<FaultFile*>(f)->real;
      return real->pMethods->xUnfetch(real, offset, p);
    };
    ready = true;
  }
  ff->base.pMethods = &fault_methods;
  return SQLITE_OK;
}

// Makes the fault VFS the default while a test runs.
class FullDisk : public ::testing::Test {
 protected:
  void SetUp() override {
    real_vfs = sqlite3_vfs_find(nullptr);
    full_disk_vfs = *real_vfs;
    full_disk_vfs.zName = "crm_full_disk";
    full_disk_vfs.szOsFile = static_cast<int>(sizeof(FaultFile));
    full_disk_vfs.xOpen = fault_open;
    sqlite3_vfs_register(&full_disk_vfs, 1);
    // ctest runs tests in parallel processes: one file per test.
    path_ = ::testing::TempDir() + "crm_full_disk_" + ::testing::UnitTest::GetInstance()->current_test_info()->name() +
            ".crm";
    for (const char* suffix : {"", "-wal", "-shm", "-journal"}) std::remove((path_ + suffix).c_str());
  }
  void TearDown() override {
    full = false;
    sqlite3_vfs_unregister(&full_disk_vfs);
    sqlite3_vfs_register(real_vfs, 1);
    for (const char* suffix : {"", "-wal", "-shm", "-journal"}) std::remove((path_ + suffix).c_str());
  }
  std::string path_;
};

Table one_text(const std::string& column, const std::string& value) {
  Table t;
  Column c(column, Column::Storage::Text);
  c.texts = {value};
  t.columns.push_back(std::move(c));
  return t;
}

}  // namespace

TEST_F(FullDisk, AFailedCommitLeavesTheHandleUsableAndNothingSaved) {
  Store s(path_);
  s.insert("customers", one_text("name", "before"));
  s.begin();
  s.insert("customers", one_text("name", "lost"));
  full = true;
  EXPECT_THROW(s.commit(), StorageError);
  full = false;
  EXPECT_FALSE(s.in_transaction());
  EXPECT_EQ(s.count("customers"), 1);
  // The next transaction starts and commits as if nothing had happened, and
  // references are checked again (SQLite's own check is back on).
  s.begin();
  s.insert("customers", one_text("name", "after"));
  s.commit();
  EXPECT_EQ(s.count("customers"), 2);
  EXPECT_THROW(s.rollback(), Error);  // nothing open: said plainly, no wedged state
  EXPECT_EQ(s.integrity_check(), "ok");
}

TEST_F(FullDisk, AFailedWriteOutsideATransactionChangesNothing) {
  Store s(path_);
  s.insert("customers", one_text("name", "before"));
  full = true;
  EXPECT_THROW(s.insert("customers", one_text("name", "lost")), StorageError);
  full = false;
  EXPECT_EQ(s.count("customers"), 1);
  s.insert("customers", one_text("name", "after"));
  EXPECT_EQ(s.count("customers"), 2);
}

TEST(StoreReads, StopWhenTheCancelAsks) {
  Store s(":memory:");
  Table t;
  Column names("name", Column::Storage::Text);
  for (int i = 0; i < 200000; ++i) names.texts.push_back("customer " + std::to_string(i));
  t.columns.push_back(std::move(names));
  s.insert("customers", t);
  int asked = 0;
  Cancel stop([&asked] { return ++asked >= 2; });
  EXPECT_THROW(s.select("customers", nullptr, nullptr, &stop), Interrupted);
  asked = 0;
  EXPECT_THROW(s.find("customers", "name", "no such name", &stop), Interrupted);
  auto named = [](const std::string& text) {
    Column c("v", Column::Storage::Text);
    c.texts = {text};
    return c;
  };
  const AnyOf either = {{{"name", Op::Contains, named("no such name")}},
                        {{"name", Op::IStartsWith, named("CUSTOMER 19999")}}};
  asked = 0;
  EXPECT_THROW(s.query("customers", either, {}, -1, 0, &stop), Interrupted);
  asked = 0;
  EXPECT_THROW(s.select_query("customers", either, {{"name", true}}, -1, 0, nullptr, &stop), Interrupted);
  // Without a cancel, or one that never asks to stop, the reads finish.
  Cancel never([] { return false; });
  EXPECT_EQ(s.select("customers", nullptr, nullptr, &never).rows(), 200000u);
  EXPECT_EQ(s.find("customers", "name", "customer 199999", &never).size(), 1u);
  EXPECT_EQ(s.query("customers", either, {}, -1, 0, &never).size(), 11u);  // 19999 and 199990..199999
}

TEST(ParseNumbers, ReadTheWholeTextAndNothingElse) {
  EXPECT_EQ(parse_whole_number(" 42 "), 42);
  EXPECT_EQ(parse_whole_number("+7"), 7);
  EXPECT_EQ(parse_whole_number("-9223372036854775808"), INT64_MIN);
  for (const char* bad : {"", "+", "++1", "0x1A", "1.5", "1e3", "12abc", "9223372036854775808", "- 1"})
    EXPECT_FALSE(parse_whole_number(bad)) << bad;
  EXPECT_FALSE(parse_whole_number(std::string("1\0 OR 1=1", 9)));
  EXPECT_EQ(parse_number("1e3"), 1000.0);
  EXPECT_EQ(parse_number(" +1.5 "), 1.5);
  for (const char* bad : {"", "0x1A", "0x1p3", "1e999", "1,200", "100junk"}) EXPECT_FALSE(parse_number(bad)) << bad;
  EXPECT_FALSE(parse_number(std::string("100\0junk", 8)));
}

TEST(ParseTime, RefusesOffsetsNoTimeZoneHas) {
  EXPECT_TRUE(parse_time("2025-01-01T08:00+14:00"));
  EXPECT_TRUE(parse_time("2025-01-01T08:00-12:00"));
  for (const char* bad : {"2025-01-01T08:00+99:99", "2025-01-01T08:00+15:00", "2025-01-01T08:00+14:30",
                          "2025-01-01T08:00+05:60"})
    EXPECT_FALSE(parse_time(bad)) << bad;
}

TEST(Tags, KeepSeparatorsInsideATagGivenAsAList) {
  const std::vector<std::string> tags = {"Co., Ltd.", "a;b", "北京"};
  EXPECT_EQ(split_tags(join_tags(tags)), tags);
  EXPECT_EQ(split_tags("vip; key account, 北京"), (std::vector<std::string>{"vip", "key account", "北京"}));
  EXPECT_TRUE(split_tags(join_tags({})).empty());
}

TEST(CustomFields, DeepNestingIsRefusedWithoutRecursion) {
  Store s(":memory:");
  std::string deep;
  for (int i = 0; i < 200000; ++i) deep += "{\"a\":";
  deep += "1";
  for (int i = 0; i < 200000; ++i) deep += "}";
  Table t = one_text("name", "x");
  Column custom("custom", Column::Storage::Text);
  custom.texts = {deep};
  t.columns.push_back(std::move(custom));
  try {
    s.insert("customers", t);
    FAIL() << "a custom value nested 200,000 deep was accepted";
  } catch (const ValidationError& e) {
    EXPECT_EQ(e.field(), "custom");
    EXPECT_NE(e.reason().find("levels deep"), std::string::npos) << e.reason();
  }
  EXPECT_EQ(s.count("customers"), 0);
}
