// Look-alike scoring (see crmcore/marketing/lookalikes.hpp). Votes come from
// per-code counts; the buyers and products behind a prospect come from
// per-code lists of buyers, walked once per distinct combination of codes,
// since prospects of one industry, region and source share the answer.
#include "crmcore/marketing/lookalikes.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <stdexcept>
#include <string>

namespace crmcore::marketing {

namespace {

// Codes of one field renumbered 0..k-1 by the caller's codes; -1 stays missing.
struct FieldIndex {
  std::vector<int64_t> code_of;       // customer -> dense code or -1
  std::vector<int64_t> all;           // dense code -> customers with it
  std::vector<int64_t> buyers;        // dense code -> buyers with it
  std::vector<size_t> buyer_begin;    // CSR rows into buyer_list
  std::vector<int64_t> buyer_list;
};

FieldIndex index_field(const int64_t* codes, const uint8_t* bought, size_t n) {
  FieldIndex f;
  f.code_of.assign(n, -1);
  std::map<int64_t, int64_t> dense;
  for (size_t i = 0; i < n; ++i)
    if (codes[i] >= 0) dense.emplace(codes[i], 0);
  int64_t next = 0;
  for (auto& [code, d] : dense) d = next++;
  f.all.assign(static_cast<size_t>(next), 0);
  f.buyers.assign(static_cast<size_t>(next), 0);
  for (size_t i = 0; i < n; ++i) {
    if (codes[i] < 0) continue;
    const int64_t d = dense[codes[i]];
    f.code_of[i] = d;
    ++f.all[d];
    if (bought[i]) ++f.buyers[d];
  }
  f.buyer_begin.assign(static_cast<size_t>(next) + 1, 0);
  for (int64_t d = 0; d < next; ++d) f.buyer_begin[d + 1] = f.buyer_begin[d] + static_cast<size_t>(f.buyers[d]);
  f.buyer_list.resize(f.buyer_begin.back());
  std::vector<size_t> fill(f.buyer_begin.begin(), f.buyer_begin.end() - 1);
  for (size_t i = 0; i < n; ++i)
    if (bought[i] && f.code_of[i] >= 0) f.buyer_list[fill[f.code_of[i]]++] = static_cast<int64_t>(i);
  return f;
}

}  // namespace

Lookalikes score_lookalikes(const LookalikeInput& in, Cancel& cancel) {
  const size_t n = in.customers;
  std::vector<FieldIndex> fields;
  fields.reserve(in.fields);
  for (size_t k = 0; k < in.fields; ++k) fields.push_back(index_field(in.codes + k * n, in.bought, n));

  // Products as dense indices in ascending id order, so "smaller id first"
  // is "smaller index first"; each buyer's lines as a CSR row.
  std::vector<int64_t> product_ids(in.line_product, in.line_product + in.lines);
  std::sort(product_ids.begin(), product_ids.end());
  product_ids.erase(std::unique(product_ids.begin(), product_ids.end()), product_ids.end());
  std::vector<size_t> line_begin(n + 1, 0);
  for (size_t j = 0; j < in.lines; ++j) {
    const int64_t c = in.line_customer[j];
    if (c < 0 || static_cast<size_t>(c) >= n)
      throw std::invalid_argument("order line " + std::to_string(j) + " names customer position " +
                                  std::to_string(c) + ", outside 0.." + std::to_string(n));
    ++line_begin[static_cast<size_t>(c) + 1];
  }
  for (size_t i = 0; i < n; ++i) line_begin[i + 1] += line_begin[i];
  std::vector<int64_t> line_products(in.lines);
  {
    std::vector<size_t> fill(line_begin.begin(), line_begin.end() - 1);
    for (size_t j = 0; j < in.lines; ++j)
      line_products[fill[in.line_customer[j]]++] =
          std::lower_bound(product_ids.begin(), product_ids.end(), in.line_product[j]) - product_ids.begin();
  }

  Lookalikes out;
  for (size_t i = 0; i < n; ++i)
    if (!in.bought[i]) out.prospect.push_back(static_cast<int64_t>(i));
  const size_t m = out.prospect.size();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  out.votes.assign(m * in.fields, nan);
  out.score.assign(m, 0.0);
  out.lookalikes.assign(m, 0);
  out.products.assign(m * in.top, -1);

  std::map<std::vector<int64_t>, size_t> seen;  // codes -> the first prospect that had them
  std::vector<size_t> stamp(n, 0);              // buyer -> last combination that counted it
  std::vector<int64_t> count(product_ids.size(), 0);
  std::vector<int64_t> touched;
  std::vector<int64_t> key(in.fields);
  size_t combination = 0;
  for (size_t p = 0; p < m; ++p) {
    const size_t i = static_cast<size_t>(out.prospect[p]);
    double sum = 0.0;
    size_t voted = 0;
    for (size_t k = 0; k < in.fields; ++k) {
      const int64_t d = fields[k].code_of[i];
      key[k] = d;
      // The prospect never bought, so it is among the value's customers but
      // not its buyers: the others are one fewer.
      if (d < 0 || fields[k].all[d] <= 1) continue;
      const double share = static_cast<double>(fields[k].buyers[d]) / static_cast<double>(fields[k].all[d] - 1);
      out.votes[p * in.fields + k] = share;
      sum += share;
      ++voted;
    }
    if (voted) out.score[p] = sum / static_cast<double>(voted);

    auto [it, fresh] = seen.emplace(key, p);
    if (!fresh) {
      const size_t q = it->second;
      out.lookalikes[p] = out.lookalikes[q];
      std::copy_n(out.products.begin() + q * in.top, in.top, out.products.begin() + p * in.top);
      continue;
    }
    ++combination;
    int64_t buyers = 0;
    for (size_t k = 0; k < in.fields; ++k) {
      const int64_t d = key[k];
      if (d < 0) continue;
      const FieldIndex& f = fields[k];
      for (size_t b = f.buyer_begin[d]; b < f.buyer_begin[d + 1]; ++b) {
        const auto buyer = static_cast<size_t>(f.buyer_list[b]);
        if (stamp[buyer] == combination) continue;  // shares an earlier field too
        stamp[buyer] = combination;
        ++buyers;
        for (size_t j = line_begin[buyer]; j < line_begin[buyer + 1]; ++j) {
          if (count[line_products[j]]++ == 0) touched.push_back(line_products[j]);
        }
      }
      cancel.tick(f.buyer_begin[d + 1] - f.buyer_begin[d] + 1);
    }
    out.lookalikes[p] = buyers;
    const size_t keep = std::min(in.top, touched.size());
    std::partial_sort(touched.begin(), touched.begin() + static_cast<std::ptrdiff_t>(keep), touched.end(),
                      [&](int64_t a, int64_t b) { return count[a] != count[b] ? count[a] > count[b] : a < b; });
    for (size_t r = 0; r < keep; ++r) out.products[p * in.top + r] = product_ids[touched[r]];
    for (int64_t t : touched) count[t] = 0;
    touched.clear();
  }
  return out;
}

}  // namespace crmcore::marketing
