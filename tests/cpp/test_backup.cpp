// Backups, restores and vacuum of a store file, without Python.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "crmcore/errors.hpp"
#include "crmcore/records/backup.hpp"
#include "crmcore/records/store.hpp"

using namespace crmcore;
using namespace crmcore::records;
namespace fs = std::filesystem;

namespace {

// A fresh folder per test, removed afterwards.
class BackupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("crmcore-backup-" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  std::vector<std::string> files() const {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(dir_)) out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
  }
  fs::path dir_;
};

// `n` customers named c0, c1, ..., each with an address of `size` bytes.
std::vector<int64_t> add_customers(Store& s, int n, size_t size = 300) {
  Column names("name", Column::Storage::Text);
  Column addresses("address", Column::Storage::Text);
  for (int i = 0; i < n; ++i) {
    names.texts.push_back("c" + std::to_string(i));
    addresses.texts.push_back(std::string(size, static_cast<char>('a' + i % 26)));
  }
  Table t;
  t.columns = {names, addresses};
  return s.insert("customers", t).ids;
}

}  // namespace

TEST_F(BackupTest, CopyHoldsTheSameRecordsAndProgressCountsEveryPage) {
  Store live(path("live.crm"));
  add_customers(live, 2000);
  std::vector<std::pair<size_t, size_t>> steps;
  live.backup(path("copy.crm"), [&steps](size_t done, size_t total) { steps.emplace_back(done, total); }, 32);
  ASSERT_GT(steps.size(), 3u);
  for (size_t i = 1; i < steps.size(); ++i)
    EXPECT_EQ(steps[i].first, std::min(steps[i - 1].first + 32, steps[i].second));
  EXPECT_EQ(steps.back().first, steps.back().second);

  Store copy(path("copy.crm"));
  EXPECT_EQ(copy.count("customers"), 2000);
  EXPECT_EQ(copy.integrity_check(), "ok");
  EXPECT_EQ(copy.select("customers").columns[1].texts, live.select("customers").columns[1].texts);
}

TEST_F(BackupTest, AStoppedBackupLeavesTheTargetAsItWas) {
  Store live(path("live.crm"));
  add_customers(live, 2000);
  {
    std::ofstream old(path("copy.crm"));
    old << "yesterday's backup";
  }
  auto stop = [](size_t done, size_t) {
    if (done >= 64) throw Interrupted();
  };
  EXPECT_THROW(live.backup(path("copy.crm"), stop, 32), Interrupted);
  std::ifstream old(path("copy.crm"));
  std::string text((std::istreambuf_iterator<char>(old)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, "yesterday's backup");
  EXPECT_EQ(files(), (std::vector<std::string>{"copy.crm", "live.crm", "live.crm-shm", "live.crm-wal"}));
}

TEST_F(BackupTest, RestoreReplacesAStoreAndRefusesWhatIsNoStore) {
  {
    Store live(path("live.crm"));
    add_customers(live, 10);
    live.backup(path("copy.crm"));
    add_customers(live, 5);
  }
  restore(path("copy.crm"), path("live.crm"));
  EXPECT_EQ(Store(path("live.crm")).count("customers"), 10);

  {
    std::ofstream junk(path("junk.crm"));
    junk << std::string(4096, 'x');
  }
  EXPECT_THROW(restore(path("junk.crm"), path("live.crm")), StorageError);
  EXPECT_THROW(restore(path("missing.crm"), path("live.crm")), NotFound);
  EXPECT_THROW(restore(path("live.crm"), path("live.crm")), Error);
  EXPECT_EQ(Store(path("live.crm")).count("customers"), 10);
}

TEST_F(BackupTest, VacuumGivesBackFreePages) {
  Store live(path("live.crm"));
  add_customers(live, 1000, 3000);  // about a page each
  // An index as large as the records, dropped: its pages are free. (Deleted
  // records would not do: the audit log keeps every removed row's values.)
  ASSERT_TRUE(live.create_index("customers", "address"));
  ASSERT_TRUE(live.drop_index("customers", "address"));
  const auto report = live.vacuum();
  EXPECT_LT(report.bytes_after * 10, report.bytes_before * 6);
  EXPECT_EQ(static_cast<int64_t>(fs::file_size(path("live.crm"))), report.bytes_after);
  EXPECT_EQ(live.count("customers"), 1000);
  EXPECT_EQ(live.integrity_check(), "ok");
}
