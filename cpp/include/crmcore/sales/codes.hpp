#pragma once
// Text columns as small codes, once, in C++: a status or stage column of
// millions of rows compared against a field's few allowed values. The text
// comes as Arrow lays out a string column (offsets into one byte buffer and
// a validity bitmap), which is how pandas keeps the store's text columns
// when pyarrow is present, so no Python string is made per row.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace crmcore::sales {

// For rows [0, n) of an Arrow string column starting at row `first` of its
// buffers: the position of each row's text in `allowed`, -1 for a null or
// any other text, written to out[0, n) (which need not be initialised: the
// caller's array is not filled twice). `offsets` has first + n + 1 entries
// (int32 for Arrow's string, int64 for large_string), the first at least 0
// and the last within the data; `validity` is the bitmap, null when every
// row is present. Returns n, or the first row whose offsets go down (the
// column is then not coded: out is left undefined, and no read has left
// [offsets[first], offsets[first + n])).
template <typename Offset>
size_t code_texts(const Offset* offsets, const char* data, const uint8_t* validity, size_t first, size_t n,
                const std::vector<std::string>& allowed, int32_t* out);

// The position of each of `values` among `ids` (unique), -1 where absent:
// record ids coded by a table over their range (a hash map when sparse).
std::vector<int64_t> id_positions(const int64_t* ids, size_t n, const int64_t* values, size_t m);

}  // namespace crmcore::sales
