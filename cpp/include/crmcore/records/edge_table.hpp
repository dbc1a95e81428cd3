#pragma once
// A graph read straight from a table of edges in a database (a team's
// PostgreSQL server or a SQLite file): rows go from the engine into the
// graph's arrays in C++, with no DataFrame in between, so the graph's size is
// bounded by the machine's memory for the graph, not for a copy in pandas.
#include <string>
#include <vector>

#include "crmcore/cancel.hpp"
#include "crmcore/graph/csr.hpp"

namespace crmcore::records {

// The columns of the edge table: endpoints (integer ids), and optionally a
// weight (a number) and a type (text, at most 256 distinct values).
struct EdgeColumns {
  std::string src = "src";
  std::string dst = "dst";
  std::string weight;  // empty: unweighted
  std::string type;    // empty: untyped
};

struct EdgeTableGraph {
  graph::Graph graph;
  std::vector<std::string> type_names;  // code i of the graph's types is type_names[i]
};

// `where` is a SQLite file path or a postgresql:// URL (its `schema=` names
// the schema the table is in; `table` may also be written schema.table).
// Table and column names must be plain SQL identifiers; they are checked,
// never quoted user text. A NULL endpoint or weight, a non-integer id or a
// non-number weight raises ValidationError naming the row of the result and
// the column.
EdgeTableGraph graph_from_table(const std::string& where, const std::string& table, const EdgeColumns& columns,
                                bool directed, Cancel& cancel);

}  // namespace crmcore::records
