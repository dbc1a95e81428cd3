#pragma once
// Short texts compared as two machine words (the coding of text columns
// and the aging report's status test share it).
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace crmcore::sales {

// A text of up to 16 bytes as its size and two words that hold every byte
// (overlapping loads of fixed size: no call to memcmp per row, which cost
// more than the rest of the coding). Longer texts are compared in full.
constexpr size_t kShort = 16;
struct Words {
  uint64_t a = 0, b = 0, size = 0;
  // One test, no jumps: a compiler turns && into a branch per word.
  bool operator==(const Words& o) const { return ((a ^ o.a) | (b ^ o.b) | (size ^ o.size)) == 0; }
};

inline Words words_of(const char* p, size_t n) {
  Words w;
  w.size = n;
  if (n >= 8) {
    std::memcpy(&w.a, p, 8), std::memcpy(&w.b, p + n - 8, 8);
  } else if (n >= 4) {
    uint32_t x, y;
    std::memcpy(&x, p, 4), std::memcpy(&y, p + n - 4, 4);
    w.a = x, w.b = y;
  } else if (n > 0) {
    w.a = static_cast<uint64_t>(static_cast<uint8_t>(p[0])) | static_cast<uint64_t>(static_cast<uint8_t>(p[n / 2])) << 8 |
          static_cast<uint64_t>(static_cast<uint8_t>(p[n - 1])) << 16;
  }
  return w;
}

}  // namespace crmcore::sales
