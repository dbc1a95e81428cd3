// Binding of the graph part: converts arrays and ids, releases the GIL around
// the algorithms and hands results back as NumPy arrays aligned with ids().
#include <optional>
#include <string>

#include "common.hpp"
#include "crmcore/errors.hpp"
#include "crmcore/graph/algorithms.hpp"
#include "crmcore/graph/csr.hpp"
#include "crmcore/records/edge_table.hpp"

namespace crmcore::bindings {

namespace {

using graph::Graph;
using graph::index_t;
using I64Array = py::array_t<int64_t, py::array::c_style | py::array::forcecast>;
using F64Array = py::array_t<double, py::array::c_style | py::array::forcecast>;
using U8Array = py::array_t<uint8_t, py::array::c_style | py::array::forcecast>;

// Runs f with the GIL released and a Ctrl-C aware Cancel.
template <typename F>
auto released(F&& f) {
  Cancel cancel = python_cancel();
  py::gil_scoped_release nogil;
  return f(cancel);
}

graph::TypeFilter type_filter(const std::optional<std::vector<uint8_t>>& types) {
  return types ? graph::TypeFilter(*types) : graph::TypeFilter();
}

std::vector<double> optional_dense(const std::optional<py::array>& a) {
  return a ? to_vector<double>(*a) : std::vector<double>();
}

graph::Similarity similarity_method(const std::string& name) {
  if (name == "jaccard") return graph::Similarity::Jaccard;
  if (name == "adamic_adar") return graph::Similarity::AdamicAdar;
  throw ValidationError("similarity", -1, "method", "'" + name + "' is not one of 'jaccard', 'adamic_adar'");
}

// Counts arrive as Python ints: taking them signed turns a negative one into
// crmcore's error instead of pybind11's "incompatible function arguments".
size_t count(int64_t v, const char* algorithm, const char* name) {
  if (v < 0) throw ValidationError(algorithm, -1, name, "must be >= 0, got " + std::to_string(v));
  return static_cast<size_t>(v);
}

std::vector<index_t> indices(const Graph& g, const py::handle& ids) {
  std::vector<int64_t> v = to_vector<int64_t>(ids);
  std::vector<index_t> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) out[i] = g.index_of(v[i]);
  return out;
}

Graph from_edges(I64Array src, I64Array dst, std::optional<F64Array> weight,
                 std::optional<U8Array> type, bool directed, std::optional<I64Array> nodes) {
  const size_t m = static_cast<size_t>(src.size());
  auto same_length = [m](py::ssize_t size, const char* name) {
    if (static_cast<size_t>(size) != m)
      throw ValidationError("from_edges", -1, name,
                            "one value per edge expected, got " + std::to_string(size) + " for " +
                                std::to_string(m) + " edges");
  };
  same_length(dst.size(), "dst");
  if (weight) same_length(weight->size(), "weight");
  if (type) same_length(type->size(), "types");
  const int64_t* s = src.data();
  const int64_t* d = dst.data();
  const double* w = weight ? weight->data() : nullptr;
  const uint8_t* t = type ? type->data() : nullptr;
  const int64_t* extra = nodes ? nodes->data() : nullptr;
  const size_t n_extra = nodes ? static_cast<size_t>(nodes->size()) : 0;
  return released([&](Cancel& c) { return Graph::from_edges(s, d, m, w, t, directed, extra, n_extra, c); });
}

// The graph and the names of its edge types' codes.
py::tuple from_table(const std::string& where, const std::string& table, const std::string& src,
                     const std::string& dst, const std::string& weight, const std::string& type, bool directed) {
  records::EdgeColumns columns{src, dst, weight, type};
  auto read = released([&](Cancel& c) { return records::graph_from_table(where, table, columns, directed, c); });
  return py::make_tuple(std::move(read.graph), read.type_names);
}

}  // namespace

void bind_graph(py::module_& m) {
  py::class_<Graph>(m, "GraphCore", "CSR graph core; use crmcore.Graph instead.")
      .def_static("from_edges", &from_edges, py::arg("src"), py::arg("dst"), py::arg("weight"),
                  py::arg("type"), py::arg("directed"), py::arg("nodes"))
      .def_static("from_table", &from_table, py::arg("where"), py::arg("table"), py::arg("src"), py::arg("dst"),
                  py::arg("weight"), py::arg("type"), py::arg("directed"),
                  "Edges read from a database table into a graph (see crmcore.Graph.from_table).")
      .def_property_readonly("num_nodes", &Graph::num_nodes)
      .def_property_readonly("num_edges", &Graph::num_edges)
      .def_property_readonly("num_entries", &Graph::num_entries)
      .def_property_readonly("directed", &Graph::directed)
      .def_property_readonly("weighted", &Graph::weighted)
      .def_property_readonly("typed", &Graph::typed)
      .def("topology_bytes", &Graph::topology_bytes)
      .def("attribute_bytes", &Graph::attribute_bytes)
      .def("ids", [](const Graph& g) { return to_numpy(std::vector<int64_t>(g.ids())); })
      .def("degree",
           [](const Graph& g, const std::string& direction, bool weighted) -> py::object {
             const graph::Direction d = direction == "in"    ? graph::Direction::In
                                        : direction == "all" ? graph::Direction::All
                                                             : graph::Direction::Out;
             std::vector<double> x = graph::degrees(g, d, weighted);
             if (weighted) return to_numpy(std::move(x));
             return to_numpy(std::vector<int64_t>(x.begin(), x.end()));  // counts, exact below 2^53
           },
           py::arg("direction") = "out", py::arg("weighted") = false)
      .def("lookup",
           [](const Graph& g, const py::handle& ids) {
             std::vector<int64_t> v = to_vector<int64_t>(ids);
             for (int64_t& x : v) {
               const index_t u = g.find(x);
               x = u == graph::kNoNode ? -1 : static_cast<int64_t>(u);
             }
             return to_numpy(std::move(v));
           })
      .def("edges",
           [](const Graph& g) {
             Graph::EdgeArrays e = released([&](Cancel&) { return g.edges(); });
             py::object w = g.weighted() ? py::object(to_numpy(std::move(e.weight))) : py::none();
             py::object t = g.typed() ? py::object(to_numpy(std::move(e.type))) : py::none();
             return py::make_tuple(to_numpy(std::move(e.src)), to_numpy(std::move(e.dst)), w, t);
           })
      .def("subgraph",
           [](const Graph& g, const py::handle& nodes, std::optional<std::vector<uint8_t>> types) {
             std::vector<index_t> idx = indices(g, nodes);
             graph::TypeFilter f = type_filter(types);
             return released([&](Cancel&) { return g.subgraph(idx, f); });
           })
      .def("simplify",
           [](const Graph& g, const std::string& how) {
             Graph::Merge m = how == "sum"   ? Graph::Merge::Sum
                              : how == "max" ? Graph::Merge::Max
                              : how == "min" ? Graph::Merge::Min
                                             : throw ValidationError("simplify", -1, "weight",
                                                                     "'" + how + "' is not one of 'sum', 'max', 'min'");
             return released([&](Cancel&) { return g.simplify(m); });
           })
      .def("to_undirected", [](const Graph& g) { return released([&](Cancel&) { return g.to_undirected(); }); })
      .def("pagerank",
           [](const Graph& g, double damping, double tol, int64_t max_iter, bool use_weights,
              std::optional<py::array> personalization, std::optional<py::array> dangling,
              std::optional<py::array> nstart) {
             graph::PageRankOptions opt;
             opt.damping = damping;
             opt.tol = tol;
             opt.max_iter = max_iter;
             opt.use_weights = use_weights;
             opt.personalization = optional_dense(personalization);
             opt.dangling = optional_dense(dangling);
             opt.nstart = optional_dense(nstart);
             return to_numpy(released([&](Cancel& c) { return graph::pagerank(g, opt, c); }));
           })
      .def("components", [](const Graph& g) {
        return to_numpy(released([&](Cancel& c) { return graph::connected_components(g, c); }));
      })
      .def("bfs_distances",
           [](const Graph& g, int64_t source, int64_t max_hops, std::optional<std::vector<uint8_t>> types) {
             const index_t s = g.index_of(source);
             graph::TypeFilter f = type_filter(types);
             return to_numpy(released([&](Cancel& c) { return graph::bfs_distances(g, s, max_hops, f, c); }));
           })
      .def("nearest_source",
           [](const Graph& g, const py::handle& sources, int64_t max_hops) {
             // Sources that are not nodes are nobody's nearest: skipped, not refused.
             std::vector<index_t> s;
             for (int64_t id : to_vector<int64_t>(sources))
               if (const index_t u = g.find(id); u != graph::kNoNode) s.push_back(u);
             graph::NearestSource r = released([&](Cancel& c) { return graph::nearest_source(g, s, max_hops, c); });
             std::vector<int64_t> source(r.source.size(), -1);
             for (size_t u = 0; u < source.size(); ++u)
               if (r.source[u] != graph::kNoNode) source[u] = g.id(r.source[u]);
             return py::make_tuple(to_numpy(std::move(r.hops)), to_numpy(std::move(source)));
           },
           py::arg("sources"), py::arg("max_hops"),
           "Hops from the nearest source to each node and that source's id (-1 where none is reached).")
      .def("dijkstra_distances",
           [](const Graph& g, int64_t source) {
             const index_t s = g.index_of(source);
             return to_numpy(released([&](Cancel& c) { return graph::dijkstra_distances(g, s, c); }));
           })
      .def("shortest_path",
           [](const Graph& g, int64_t a, int64_t b, bool weighted) {
             const index_t ia = g.index_of(a), ib = g.index_of(b);
             return to_numpy(released([&](Cancel& c) { return graph::shortest_path(g, ia, ib, weighted, c); }));
           })
      .def("strongest_path",
           [](const Graph& g, int64_t a, int64_t b) {
             const index_t ia = g.index_of(a), ib = g.index_of(b);
             graph::StrongestPath p = released([&](Cancel& c) { return graph::strongest_path(g, ia, ib, c); });
             return py::make_tuple(to_numpy(std::move(p.path)), p.strength);
           })
      .def("neighbors",
           [](const Graph& g, int64_t u, std::optional<std::vector<uint8_t>> types) {
             return to_numpy(graph::neighbors(g, g.index_of(u), type_filter(types)));
           })
      .def("shared_neighbors",
           [](const Graph& g, int64_t a, int64_t b, std::optional<std::vector<uint8_t>> types) {
             return to_numpy(graph::shared_neighbors(g, g.index_of(a), g.index_of(b), type_filter(types)));
           })
      .def("betweenness",
           [](const Graph& g, std::optional<py::array> sources, bool weighted, bool normalized) {
             std::vector<index_t> src = sources ? indices(g, *sources) : std::vector<index_t>();
             return to_numpy(released([&](Cancel& c) { return graph::betweenness(g, src, weighted, normalized, c); }));
           })
      .def("sample_nodes",
           [](const Graph& g, int64_t k, uint64_t seed) {
             return to_numpy(graph::sample_nodes(g.num_nodes(), count(k, "betweenness", "k"), seed));
           })
      .def("louvain",
           [](const Graph& g, double resolution, uint64_t seed, int64_t trials, bool use_weights) {
             graph::Communities r = released(
                 [&](Cancel& c) { return graph::louvain(g, resolution, seed, trials, use_weights, c); });
             return py::make_tuple(to_numpy(std::move(r.label)), r.modularity);
           })
      .def("modularity",
           [](const Graph& g, const py::handle& labels, double resolution, bool use_weights) {
             std::vector<int64_t> l = to_vector<int64_t>(labels);
             return released([&](Cancel&) { return graph::modularity(g, l, resolution, use_weights); });
           })
      .def("similarity",
           [](const Graph& g, int64_t u, const std::string& method, int64_t top_in) {
             const index_t iu = g.index_of(u);
             const size_t top = count(top_in, "similar", "top");
             const graph::Similarity how = similarity_method(method);
             graph::Scored s = released([&](Cancel& c) { return graph::similarity(g, iu, how, top, c); });
             return py::make_tuple(to_numpy(std::move(s.node)), to_numpy(std::move(s.score)));
           })
      .def("pair_similarity",
           [](const Graph& g, const py::handle& a, const py::handle& b, const std::string& method) {
             std::vector<index_t> ia = indices(g, a), ib = indices(g, b);
             const graph::Similarity how = similarity_method(method);
             return to_numpy(released([&](Cancel& c) { return graph::pair_similarity(g, ia, ib, how, c); }));
           });
}

}  // namespace crmcore::bindings
