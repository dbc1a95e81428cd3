// One chunk of an Arrow string column (string or large_string), read from
// its buffers as NumPy views: no Python string is made per row. pandas keeps
// text this way when pyarrow is present.
#pragma once

#include <string>
#include <string_view>

#include "common.hpp"

namespace crmcore::bindings {

template <typename Offset>
class ArrowTextChunk {
 public:
  // Rows [first, first + n) of the buffers; `validity` is None when every
  // row is present. The buffers are checked to cover the rows, so that a
  // chunk made by hand cannot make a read leave them.
  // `in_order`: whether to check here that the offsets never go down (a
  // caller that checks it on its own way through the rows says false).
  ArrowTextChunk(const py::array& offsets, const py::array& data, const py::object& validity, size_t first,
                 size_t n, const std::string& what, bool in_order = true)
      : offsets_(Column<Offset>::ensure(offsets)), data_(Column<uint8_t>::ensure(data)), first_(first), n_(n) {
    // (Written so that no sum can wrap: `first` and `n` come from Python as
    // any size_t.)
    const size_t count = offsets_ ? static_cast<size_t>(offsets_.size()) : 0;
    if (!offsets_ || !data_ || count == 0 || first > count - 1 || n > count - 1 - first)
      throw std::invalid_argument(what + ": the offsets do not cover the rows");
    if (!validity.is_none()) {
      bits_ = Column<uint8_t>::ensure(validity);
      has_bits_ = true;
      if (!bits_ || static_cast<size_t>(bits_.size()) * 8 < first + n)
        throw std::invalid_argument(what + ": the validity bitmap does not cover the rows");
    }
    const auto* base = offsets_.data();
    const auto last = static_cast<uint64_t>(base[first + n]);
    if (n > 0 && (base[first] < 0 || last > static_cast<uint64_t>(data_.size())))
      throw std::invalid_argument(what + ": an offset points outside the data");
    // Arrow's offsets never decrease; buffers made by hand may. Checked, since
    // the first and last alone would then let a value reach outside the data.
    for (size_t i = first; in_order && i < first + n; ++i)
      if (base[i + 1] < base[i]) refuse_decreasing(what, i - first);
  }

  [[noreturn]] static void refuse_decreasing(const std::string& what, size_t row) {
    throw std::invalid_argument(what + ": the offsets decrease at row " + std::to_string(row));
  }

  size_t size() const { return n_; }
  size_t first() const { return first_; }
  const Offset* offsets() const { return offsets_.data(); }
  const char* chars() const { return reinterpret_cast<const char*>(data_.data()); }
  // The validity bitmap (bit `first + i` for row i), or nullptr when all are present.
  const uint8_t* bits() const { return has_bits_ ? bits_.data() : nullptr; }

  bool present(size_t row) const {
    const size_t bit = first_ + row;
    return !has_bits_ || (bits_.data()[bit >> 3] >> (bit & 7)) & 1;
  }
  std::string_view text(size_t row) const {
    const auto* base = offsets_.data() + first_ + row;
    return {chars() + base[0], static_cast<size_t>(base[1] - base[0])};
  }

 private:
  Column<Offset> offsets_;
  Column<uint8_t> data_;
  Column<uint8_t> bits_;  // read only when has_bits_: a default-made array is not None
  bool has_bits_ = false;
  size_t first_;
  size_t n_;
};

}  // namespace crmcore::bindings
