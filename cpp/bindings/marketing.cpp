// Binding of the marketing kernels (look-alike scoring of prospects,
// attribution, a segment's order columns): NumPy columns in and out; the
// work runs without the GIL.
#include "common.hpp"
#include "crmcore/marketing/attribution.hpp"
#include "crmcore/marketing/lookalikes.hpp"
#include "crmcore/marketing/segments.hpp"
#include "crmcore/access/access.hpp"
#include "crmcore/records/store.hpp"

namespace crmcore::bindings {

void bind_marketing(py::module_& m) {
  m.def(
      "score_lookalikes",
      [](Column<int64_t> codes, Column<uint8_t> bought, Column<int64_t> line_customer, Column<int64_t> line_product,
         size_t top) {
        if (codes.ndim() != 2) throw std::invalid_argument("codes must be a 2-d array: one row per field");
        marketing::LookalikeInput in;
        in.fields = static_cast<size_t>(codes.shape(0));
        in.customers = same_length({codes.shape(1), bought.size()});
        in.codes = codes.data();
        in.bought = bought.data();
        in.lines = same_length({line_customer.size(), line_product.size()});
        in.line_customer = line_customer.data();
        in.line_product = line_product.data();
        in.top = top;
        marketing::Lookalikes r;
        {
          Cancel cancel = python_cancel();
          py::gil_scoped_release nogil;
          r = marketing::score_lookalikes(in, cancel);
        }
        py::dict out;
        out["prospect"] = to_numpy(std::move(r.prospect));
        out["votes"] = to_numpy(std::move(r.votes));
        out["score"] = to_numpy(std::move(r.score));
        out["lookalikes"] = to_numpy(std::move(r.lookalikes));
        out["products"] = to_numpy(std::move(r.products));
        return out;
      },
      py::arg("codes"), py::arg("bought"), py::arg("line_customer"), py::arg("line_product"), py::arg("top"),
      "Look-alike votes, scores, buyer counts and top products of the customers who never bought "
      "(see crmcore/marketing/lookalikes.hpp).");
  m.def(
      "attribute_orders",
      [](Column<int64_t> order_customer, Column<int64_t> ordered_at, Column<int64_t> touch_customer,
         Column<int64_t> touched_at, int64_t window, bool last) {
        const marketing::TimedRows orders{order_customer.data(), ordered_at.data(),
                                          same_length({order_customer.size(), ordered_at.size()})};
        const marketing::TimedRows touches{touch_customer.data(), touched_at.data(),
                                           same_length({touch_customer.size(), touched_at.size()})};
        std::vector<int64_t> out;
        {
          Cancel cancel = python_cancel();
          py::gil_scoped_release nogil;
          out = marketing::attribute_orders(orders, touches, window, last, cancel);
        }
        return to_numpy(std::move(out));
      },
      py::arg("order_customer"), py::arg("ordered_at"), py::arg("touch_customer"), py::arg("touched_at"),
      py::arg("window"), py::arg("last"),
      "Per order, the row of the touch it is credited to, or -1 (see crmcore/marketing/attribution.hpp).");
  m.def(
      "segment_orders",
      [](py::object store, py::object customers, bool times, bool amounts) {
        const marketing::OrderParts parts{times, amounts};
        std::vector<int64_t> wanted;
        if (!customers.is_none()) wanted = to_vector<int64_t>(customers);
        const std::vector<int64_t>* among = customers.is_none() ? nullptr : &wanted;
        marketing::OrderColumns r;
        // A scoped handle reads under its access rules, the store as it is.
        if (py::isinstance<access::ScopedStore>(store)) {
          const auto& scoped = store.cast<const access::ScopedStore&>();
          Cancel cancel = python_cancel();
          py::gil_scoped_release nogil;
          r = marketing::read_orders(scoped, among, parts, &cancel);
        } else {
          const auto& base = store.cast<const records::Store&>();
          Cancel cancel = python_cancel();
          py::gil_scoped_release nogil;
          r = marketing::read_orders(base, among, parts, &cancel);
        }
        py::dict out;
        out["customer"] = to_numpy(std::move(r.customer));
        out["ordered_at"] = to_numpy(std::move(r.ordered_at));
        out["amount"] = to_numpy(std::move(r.amount));
        out["status"] = to_numpy(std::move(r.status));
        out["labels"] = py::cast(r.labels);
        return out;
      },
      py::arg("store"), py::arg("customers") = py::none(), py::arg("times") = true, py::arg("amounts") = true,
      "The orders' customer, status code (and amount, time) of the given customers, or of all, read once "
      "(see crmcore/marketing/segments.hpp).");
  m.def(
      "purchase_totals",
      [](Column<int64_t> customer, std::optional<Column<int64_t>> ordered_at, Column<double> amount,
         Column<int32_t> status, py::object purchase, py::object candidates, int64_t as_of) {
        const std::vector<uint8_t> flags = to_vector<uint8_t>(purchase);
        const std::vector<int64_t> among = to_vector<int64_t>(candidates);
        marketing::OrderRows rows;
        rows.n = same_length({customer.size(), amount.size(), status.size(),
                              ordered_at ? ordered_at->size() : customer.size()});
        rows.customer = customer.data();
        rows.ordered_at = ordered_at ? ordered_at->data() : nullptr;
        rows.amount = amount.data();
        rows.status = status.data();
        marketing::PurchaseTotals r;
        {
          Cancel cancel = python_cancel();
          py::gil_scoped_release nogil;
          r = marketing::purchase_totals(rows, flags, among, as_of, cancel);
        }
        return py::make_tuple(to_numpy(std::move(r.frequency)), to_numpy(std::move(r.monetary)));
      },
      py::arg("customer"), py::arg("ordered_at"), py::arg("amount"), py::arg("status"), py::arg("purchase"),
      py::arg("candidates"), py::arg("as_of"),
      "Purchases and their total per candidate customer over order columns (see crmcore/marketing/segments.hpp).");
}

}  // namespace crmcore::bindings
