#pragma once
// Bit-pattern hashing of doubles into dense ids, shared by the row
// collapsing of the fits and the per-distinct-value caches of the
// predictions. Private to cpp/src/scoring.
#include <cstdint>
#include <cstring>
#include <vector>

namespace crmcore::scoring::clv::detail {

inline uint64_t bits(double v) {
  uint64_t u;
  std::memcpy(&u, &v, sizeof u);
  return u;
}

inline double from_bits(uint64_t u) {
  double v;
  std::memcpy(&v, &u, sizeof v);
  return v;
}

// splitmix64 finaliser: whole-number doubles have long runs of zero bits that
// a weaker mix would cluster.
inline uint64_t mix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Dense ids 0, 1, 2, ... for 64-bit keys in order of first appearance: an
// open-addressing table that doubles at half load, so that a handful of
// distinct keys stays in cache.
class DenseIds {
 public:
  uint32_t id(uint64_t key) {
    if (2 * (count_ + 1) > keys_.size()) grow();
    size_t slot = static_cast<size_t>(mix(key)) & (keys_.size() - 1);
    while (ids_[slot] != UINT32_MAX) {
      if (keys_[slot] == key) return ids_[slot];
      slot = (slot + 1) & (keys_.size() - 1);
    }
    keys_[slot] = key;
    by_id_.push_back(key);
    return ids_[slot] = count_++;
  }
  uint32_t size() const { return count_; }
  uint64_t key(uint32_t id) const { return by_id_[id]; }

 private:
  void grow() {
    std::vector<uint64_t> old_keys = std::move(keys_);
    std::vector<uint32_t> old_ids = std::move(ids_);
    const size_t cap = old_keys.empty() ? 1024 : 2 * old_keys.size();
    keys_.assign(cap, 0);
    ids_.assign(cap, UINT32_MAX);
    for (size_t j = 0; j < old_keys.size(); ++j) {
      if (old_ids[j] == UINT32_MAX) continue;
      size_t slot = static_cast<size_t>(mix(old_keys[j])) & (cap - 1);
      while (ids_[slot] != UINT32_MAX) slot = (slot + 1) & (cap - 1);
      keys_[slot] = old_keys[j];
      ids_[slot] = old_ids[j];
    }
  }
  std::vector<uint64_t> keys_, by_id_;
  std::vector<uint32_t> ids_;
  uint32_t count_ = 0;
};

}  // namespace crmcore::scoring::clv::detail
