// The one entry point of crmcore._core: each part binds itself in its own file.
#include "common.hpp"

PYBIND11_MODULE(_core, m) {
  m.doc() = "crmcore's C++ core (records, graph, scoring); use the crmcore package instead";
  using namespace crmcore::bindings;
  bind_errors(m);
  bind_records(m);
  bind_schema(m);
  bind_graph(m);
  bind_scoring(m);
  bind_clv(m);
  bind_sales(m);
  bind_service(m);
  bind_marketing(m);
  bind_duplicates(m);
  bind_access(m);
  bind_automation(m);
  bind_column_cache(m);
  bind_stock(m);
  bind_backend(m);
}
