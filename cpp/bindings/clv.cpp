// Binding of the lifetime-value core (crmcore._core.clv): conversions only.
#include <tuple>

#include "common.hpp"
#include "crmcore/scoring/clv.hpp"

namespace crmcore::bindings {

namespace clv = crmcore::scoring::clv;
using Vec = std::vector<double>;

namespace {

// Converts each array argument to a vector, runs f on them with the GIL released.
template <class F, class... Arrays>
py::array_t<double> on_arrays(F f, const Arrays&... arrays) {
  auto vectors = std::make_tuple(to_vector<double>(arrays)...);
  Vec out;
  {
    py::gil_scoped_release nogil;
    out = std::apply(f, vectors);
  }
  return to_numpy(std::move(out));
}

using H = const py::handle&;

}  // namespace

void bind_clv(py::module_& parent) {
  py::module_ m = parent.def_submodule("clv", "lifetime-value kernels behind crmcore.clv");

  py::class_<clv::Rows>(m, "Rows", "customers collapsed into distinct (x, t_x, T) rows with summed weights")
      .def(py::init([](const py::handle& x, const py::handle& tx, const py::handle& T, const py::object& w) {
             // Read the caller's float64 arrays in place (a million-row fit would otherwise copy 32 MB).
             using Arr = py::array_t<double, py::array::c_style | py::array::forcecast>;
             Arr ax = Arr::ensure(x), atx = Arr::ensure(tx), aT = Arr::ensure(T);
             Arr aw = w.is_none() ? Arr() : Arr::ensure(w);
             if (!ax || !atx || !aT || (!w.is_none() && !aw)) throw py::type_error("expected numeric arrays");
             const auto n = static_cast<size_t>(ax.size());
             if (static_cast<size_t>(atx.size()) != n || static_cast<size_t>(aT.size()) != n ||
                 (!w.is_none() && static_cast<size_t>(aw.size()) != n))
               throw py::value_error("frequency, recency, T and weights must have the same length");
             const double* pw = w.is_none() ? nullptr : aw.data();
             py::gil_scoped_release nogil;
             return clv::compress_rows(ax.data(), atx.data(), aT.data(), pw, n);
           }),
           py::arg("x"), py::arg("tx"), py::arg("T"), py::arg("w") = py::none())
      .def("scale_times", &clv::scale_times, py::arg("factor"))
      .def_property_readonly("size", &clv::Rows::size)
      .def_property_readonly("total_weight", [](const clv::Rows& r) { return r.total_weight; })
      .def(
          "log_likelihood",
          [](const clv::Rows& rows, const std::string& model, const Vec& log_params) {
            const clv::Model mdl = clv::model_from_name(model);
            Vec grad;
            double ll;
            {
              py::gil_scoped_release nogil;
              Cancel cancel = python_cancel();
              ll = clv::log_likelihood(mdl, rows, log_params, &grad, &cancel);
            }
            return py::make_tuple(ll, to_numpy(std::move(grad)));
          },
          py::arg("model"), py::arg("log_params"), "(weighted sum of log-likelihoods, gradient w.r.t. log-params)");

  m.def(
      "fit",
      [](const std::string& model, const clv::Rows& rows, const Vec& x0, double penalizer, double gtol, int max_iter,
         bool verbose) {
        const clv::Model mdl = clv::model_from_name(model);
        clv::FitOptions opt;
        opt.penalizer = penalizer;
        opt.gtol = gtol;
        opt.max_iter = max_iter;
        opt.verbose = verbose;
        clv::FitResult res;
        {
          py::gil_scoped_release nogil;
          Cancel cancel = python_cancel();
          res = clv::fit(mdl, rows, x0, opt, &cancel);
        }
        py::dict out;
        const auto k = static_cast<py::ssize_t>(res.log_params.size());
        out["log_params"] = to_numpy(std::move(res.log_params));
        out["hessian"] = to_numpy(std::move(res.hessian)).reshape({k, k});
        out["objective"] = res.objective;
        out["log_likelihood"] = res.log_likelihood;
        out["iterations"] = res.iterations;
        out["evaluations"] = res.evaluations;
        out["converged"] = res.converged;
        out["message"] = res.message;
        return out;
      },
      py::arg("model"), py::arg("rows"), py::arg("log_params0"), py::arg("penalizer") = 0.0,
      py::arg("gtol") = 1e-10, py::arg("max_iter") = 500, py::arg("verbose") = false);

  m.def("bg_conditional_expected", [](bool modified, H params, H t, H x, H tx, H T) {
    return on_arrays([modified](const Vec& p, const Vec& t_, const Vec& x_, const Vec& tx_, const Vec& T_) {
      return clv::bg_conditional_expected(modified, p, t_, x_, tx_, T_);
    }, params, t, x, tx, T);
  }, "E[X(T, T+t] | x, t_x, T) under BG/NBD or (modified) MBG/NBD");
  m.def("bg_probability_alive", [](bool modified, H params, H x, H tx, H T) {
    return on_arrays([modified](const Vec& p, const Vec& x_, const Vec& tx_, const Vec& T_) {
      return clv::bg_probability_alive(modified, p, x_, tx_, T_);
    }, params, x, tx, T);
  });
  m.def("bg_probability_of_n", [](bool modified, H params, H t, H n) {
    return on_arrays([modified](const Vec& p, const Vec& t_, const Vec& n_) {
      return clv::bg_probability_of_n(modified, p, t_, n_);
    }, params, t, n);
  });
  m.def("pareto_probability_alive",
        [](H params, H x, H tx, H T) { return on_arrays(&clv::pareto_probability_alive, params, x, tx, T); });
  m.def("pareto_conditional_expected", [](H params, H t, H x, H tx, H T) {
    return on_arrays(&clv::pareto_conditional_expected, params, t, x, tx, T);
  }, "(params, t, x, tx, T)");
  m.def("pareto_conditional_probability_of_n", [](H params, H n, H t, H x, H tx, H T) {
    return on_arrays(&clv::pareto_conditional_probability_of_n, params, n, t, x, tx, T);
  }, "(params, n, t, x, tx, T)");
  m.def("bgbb_conditional_expected", [](H params, H m_, H x, H tx, H n) {
    return on_arrays(&clv::bgbb_conditional_expected, params, m_, x, tx, n);
  }, "(params, m, x, tx, n)");
  m.def("bgbb_probability_alive", [](H params, H m_, H x, H tx, H n) {
    return on_arrays(&clv::bgbb_probability_alive, params, m_, x, tx, n);
  }, "(params, m, x, tx, n)");
  m.def("bgbb_probability_of_x", [](H params, int n) {
    return on_arrays([n](const Vec& p) { return clv::bgbb_probability_of_x(p, n); }, params);
  });
  m.def("log_likelihood_rows", [](const std::string& model, H params, H x, H tx, H T) {
    const clv::Model mdl = clv::model_from_name(model);
    return on_arrays([mdl](const Vec& p, const Vec& x_, const Vec& tx_, const Vec& T_) {
      return clv::log_likelihood_rows(mdl, p, x_, tx_, T_);
    }, params, x, tx, T);
  }, "per-row log-likelihood at natural parameters");

  m.def("floor_to_period", [](const py::handle& ns, int64_t period_ns, int64_t offset_ns) {
    std::vector<int64_t> v = to_vector<int64_t>(ns);
    std::vector<int64_t> out;
    {
      py::gil_scoped_release nogil;
      out = clv::floor_to_period(v, period_ns, offset_ns);
    }
    return to_numpy(std::move(out));
  });
  m.def(
      "summarize_periods",
      [](const py::handle& codes, const py::handle& starts, const py::object& spend, int64_t n_customers,
         int64_t observation_end) {
        // Read the columns in place: ten million rows would otherwise copy 240 MB.
        using I64 = py::array_t<int64_t, py::array::c_style | py::array::forcecast>;
        using F64 = py::array_t<double, py::array::c_style | py::array::forcecast>;
        I64 c = I64::ensure(codes), s = I64::ensure(starts);
        F64 money = spend.is_none() ? F64() : F64::ensure(spend);
        if (!c || !s || (!spend.is_none() && !money)) throw py::type_error("expected numeric arrays");
        const auto n = static_cast<size_t>(c.size());
        if (static_cast<size_t>(s.size()) != n || (!spend.is_none() && static_cast<size_t>(money.size()) != n))
          throw py::value_error("customer, datetime and monetary columns must have the same length");
        const double* pm = spend.is_none() ? nullptr : money.data();
        clv::PeriodSummary res;
        {
          py::gil_scoped_release nogil;
          Cancel cancel = python_cancel();
          res = clv::summarize_periods(c.data(), s.data(), pm, n, n_customers, observation_end, &cancel);
        }
        py::dict out;
        out["first"] = to_numpy(std::move(res.first));
        out["last"] = to_numpy(std::move(res.last));
        out["n_periods"] = to_numpy(std::move(res.n_periods));
        out["spend_all"] = to_numpy(std::move(res.spend_all));
        out["spend_repeat"] = to_numpy(std::move(res.spend_repeat));
        return out;
      },
      py::arg("codes"), py::arg("period_start"), py::arg("spend"), py::arg("n_customers"),
      py::arg("observation_end"));
}

}  // namespace crmcore::bindings
