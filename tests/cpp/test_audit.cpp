// The audit chain's SHA-256 against the published test vectors (FIPS 180-2
// appendix B), and the store's audit chain as a C++ user sees it.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <string>

#include "crmcore/errors.hpp"
#include "crmcore/records/sha256.hpp"
#include "crmcore/records/store.hpp"
#include "columns.hpp"

using namespace crmcore::records;

TEST(Sha256, PublishedVectors) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(sha256_hex(std::string(1000000, 'a')), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256, PiecesGiveTheWholeDigest) {
  const std::string text = "The quick brown fox jumps over the lazy dog, again and again and again and again.";
  for (size_t cut = 0; cut <= text.size(); ++cut) {
    Sha256 h;
    h.update(std::string_view(text).substr(0, cut)).update(std::string_view(text).substr(cut));
    std::string hex;
    for (uint8_t b : h.finish()) {
      static const char digits[] = "0123456789abcdef";
      hex += digits[b >> 4];
      hex += digits[b & 15];
    }
    EXPECT_EQ(hex, sha256_hex(text)) << cut;
  }
}

TEST(AuditChain, AnEditOutsideTheStoreIsNamedByItsEntry) {
  const std::string path = (std::filesystem::temp_directory_path() / "crmcore-audit-chain.crm").string();
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);
  {
    Store s(path);
    s.set_actor("gtest");
    Table t;
    t.columns.push_back(crmcore::records::testing::text_column("name", {"A", "B"}));
    const auto ids = s.insert("customers", t).ids;
    Table region;
    region.columns.push_back(crmcore::records::testing::text_column("region", {"east"}));
    s.update("customers", ids[0], region);
    s.remove("customers", ids[1]);
    EXPECT_TRUE(s.audit_check().empty());
    const Table log = s.audit_log(10);
    EXPECT_EQ(log.find("actor")->texts[0], "gtest");
    EXPECT_EQ(log.find("changes")->texts[1], R"({"region":[null,"east"]})");
  }
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &raw), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(raw, "UPDATE audit_log SET rows = 5 WHERE seq = 2", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(raw);
  Store s(path, OpenOptions{/*readonly=*/true});
  const auto problems = s.audit_check();
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].seq, 2);
  EXPECT_THROW(s.remove("customers", 1), crmcore::Error);
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);
}
