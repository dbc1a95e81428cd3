#pragma once
// SHA-256 (FIPS 180-4), written here so that the audit log's hash chain
// needs no crypto library in the wheel. Checked against Python's hashlib.
#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace crmcore::records {

class Sha256 {
 public:
  Sha256();
  Sha256& update(std::string_view bytes);
  // The digest of everything given; the object is spent afterwards.
  std::array<uint8_t, 32> finish();

 private:
  void block(const uint8_t* p);
  std::array<uint32_t, 8> state_;
  std::array<uint8_t, 64> buffer_{};
  size_t buffered_ = 0;
  uint64_t length_ = 0;  // bytes given so far
};

// The digest of `bytes` as 64 lowercase hex digits.
std::string sha256_hex(std::string_view bytes);

}  // namespace crmcore::records
