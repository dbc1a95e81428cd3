#pragma once
// JSON text written from nlohmann's SAX events, private to the store: custom
// fields and the nested values of JSON imports are checked and re-written
// without ever building a document. A document would be recursed over
// (dump, and destruction in older versions): input nested 60,000 deep then
// overflowed the stack. Events come from an iterative parser, so depth costs
// nothing here but the limit the store sets.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

namespace crmcore::records::json_text {

using Json = nlohmann::json;

// Appends `text` (UTF-8) as a JSON string.
void append_string(std::string& out, std::string_view text);
void append_int(std::string& out, int64_t v);
// The shortest text that reads back as the same double, with a fraction or
// exponent so that it reads back as a number that is not whole ("1200.0").
void append_real(std::string& out, double v);

// Writes one JSON value compactly as its events arrive, keeping member order
// and the exact text of numbers (integers beyond 64 bits stay exact). It
// refuses a value nested deeper than `max_depth` and a key repeated in one
// object: `problem()` then says why, and the rest of the value is read and
// dropped.
class Compactor : public nlohmann::json_sax<Json> {
 public:
  explicit Compactor(int max_depth) : max_depth_(max_depth) {}

  // Starts a new value; the text written so far is dropped.
  void reset();
  // Whether a whole value has been written.
  bool done() const { return started_ && depth_ == 0; }
  int depth() const { return depth_; }
  const std::string& text() const { return out_; }
  std::string take_text() { return std::move(out_); }
  // Why the value was refused ("" when it was not).
  const std::string& problem() const { return problem_; }

  bool null() override;
  bool boolean(bool val) override;
  bool number_integer(number_integer_t val) override;
  bool number_unsigned(number_unsigned_t val) override;
  bool number_float(number_float_t val, const string_t& raw) override;
  bool string(string_t& val) override;
  bool binary(binary_t&) override { return true; }  // JSON text has none
  bool start_object(std::size_t) override { return open('{'); }
  bool start_array(std::size_t) override { return open('['); }
  bool end_object() override { return close('}'); }
  bool end_array() override { return close(']'); }
  bool key(string_t& val) override;
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) override;

 private:
  void before_value();
  bool open(char bracket);
  bool close(char bracket);
  void refuse(std::string why);
  void refuse_nul(const string_t& val);
  bool writing() const { return problem_.empty(); }

  int max_depth_;
  int depth_ = 0;
  bool started_ = false;
  std::string out_;
  std::string problem_;
  std::vector<bool> first_;  // per open container: no element yet
  std::vector<std::unordered_set<std::string>> keys_;  // per open object, its keys so far
  std::vector<bool> is_object_;
};

// The members of a compact JSON object as the store keeps it (see
// compact_object): each key and its value's text exactly as written, so
// that objects can be combined without reading their numbers.
std::vector<std::pair<std::string, std::string>> object_members(std::string_view compact);

// Puts the compact text of the JSON object `text` into `out` ("" for {}), or
// returns false with the reason it is not one in `why` (invalid JSON, not an
// object, nested too deep, a repeated key).
bool compact_object(std::string_view text, int max_depth, std::string& out, std::string& why);

}  // namespace crmcore::records::json_text
