// Binding of the stock ledger kernels: NumPy columns in, NumPy columns out;
// the work runs without the GIL.
#include "common.hpp"
#include "crmcore/records/store.hpp"
#include "crmcore/stock/balances.hpp"
#include "crmcore/stock/ledger.hpp"

namespace crmcore::bindings {

namespace {

// The columns of the movements, kept alive while a kernel reads them.
struct MovementColumns {
  Column<int8_t> type;
  Column<int64_t> product, location, to_location;
  Column<double> quantity, unit_cost;
  Column<int64_t> at;

  stock::Movements view() const {
    const size_t rows = same_length({type.size(), product.size(), location.size(), to_location.size(),
                                     quantity.size(), unit_cost.size(), at.size()});
    return {type.data(), product.data(), location.data(), to_location.data(), quantity.data(), unit_cost.data(),
            at.data(), rows};
  }
};

#define CRM_MOVEMENT_ARGS                                                                                      \
  py::arg("type"), py::arg("product"), py::arg("location"), py::arg("to_location"), py::arg("quantity"),     \
      py::arg("unit_cost"), py::arg("at")

}  // namespace

void bind_stock(py::module_& m) {
  m.def(
      "stock_levels_kept",
      [](const records::Store& store, int64_t as_of, int64_t since) {
        records::Store::StockLevels out;
        {
          Cancel cancel = python_cancel();
          py::gil_scoped_release release;
          out = store.stock_levels(as_of, since, &cancel);
        }
        return py::make_tuple(to_numpy(std::move(out.product)), to_numpy(std::move(out.location)),
                              to_numpy(std::move(out.on_hand)), to_numpy(std::move(out.shipped)));
      },
      py::arg("store"), py::arg("as_of"), py::arg("since"),
      "(product_id, location_id, on_hand, shipped) per pair that moved up to as_of, from the kept monthly "
      "balances and as_of's month of movements (see crmcore/records/store.hpp).");
  m.def(
      "stock_balances",
      [](const records::Store& store) {
        records::Store::StockBalances out;
        {
          py::gil_scoped_release release;
          out = store.stock_balances();
        }
        return py::make_tuple(to_numpy(std::move(out.product)), to_numpy(std::move(out.location)),
                              to_numpy(std::move(out.period)), to_numpy(std::move(out.change)),
                              to_numpy(std::move(out.shipped)), to_numpy(std::move(out.moves)));
      },
      py::arg("store"),
      "(product_id, location_id, period, change, shipped, moves) of the kept monthly stock balances.");
  m.def("stock_period", &stock::balance_period, py::arg("ns"),
        "The month of an instant (ns, UTC) as year * 12 + month - 1, as the kept balances key it.");
  m.def(
      "stock_levels",
      [](Column<int8_t> type, Column<int64_t> product, Column<int64_t> location, Column<int64_t> to_location,
         Column<double> quantity, Column<double> unit_cost, Column<int64_t> at, int64_t products, int64_t locations,
         int64_t as_of, int64_t since) {
        const MovementColumns cols{type, product, location, to_location, quantity, unit_cost, at};
        const stock::Movements view = cols.view();
        stock::Levels out;
        {
          py::gil_scoped_release release;
          out = stock::levels(view, products, locations, as_of, since);
        }
        return py::make_tuple(to_numpy(std::move(out.on_hand)), to_numpy(std::move(out.shipped)),
                              to_numpy(std::move(out.seen)));
      },
      CRM_MOVEMENT_ARGS, py::arg("products"), py::arg("locations"), py::arg("as_of"), py::arg("since"),
      "(on_hand, shipped, seen) per product * locations + location (see crmcore/stock/ledger.hpp).");
  m.def(
      "stock_moving_average",
      [](Column<int8_t> type, Column<int64_t> product, Column<int64_t> location, Column<int64_t> to_location,
         Column<double> quantity, Column<double> unit_cost, Column<int64_t> at, int64_t products, int64_t as_of) {
        const MovementColumns cols{type, product, location, to_location, quantity, unit_cost, at};
        const stock::Movements view = cols.view();
        stock::Valuation out;
        {
          py::gil_scoped_release release;
          out = stock::moving_average(view, products, as_of);
        }
        return py::make_tuple(to_numpy(std::move(out.on_hand)), to_numpy(std::move(out.average_cost)));
      },
      CRM_MOVEMENT_ARGS, py::arg("products"), py::arg("as_of"),
      "(on_hand, average_cost) per product (see crmcore/stock/ledger.hpp).");
  m.def(
      "stock_outs",
      [](Column<int8_t> type, Column<int64_t> product, Column<int64_t> location, Column<int64_t> to_location,
         Column<double> quantity, Column<double> unit_cost, Column<int64_t> at, int64_t products, int64_t locations,
         int64_t as_of) {
        const MovementColumns cols{type, product, location, to_location, quantity, unit_cost, at};
        const stock::Movements view = cols.view();
        stock::Stockouts out;
        {
          py::gil_scoped_release release;
          out = stock::stockouts(view, products, locations, as_of);
        }
        return py::make_tuple(to_numpy(std::move(out.product)), to_numpy(std::move(out.location)),
                              to_numpy(std::move(out.start)), to_numpy(std::move(out.end)),
                              to_numpy(std::move(out.lowest)));
      },
      CRM_MOVEMENT_ARGS, py::arg("products"), py::arg("locations"), py::arg("as_of"),
      "(product, location, start, end, lowest) of each stock-out (see crmcore/stock/ledger.hpp).");
}

#undef CRM_MOVEMENT_ARGS

}  // namespace crmcore::bindings
