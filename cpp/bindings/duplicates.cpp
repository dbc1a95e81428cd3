// Binding of the duplicate search: text columns in, NumPy columns out; the
// search runs without the GIL.
#include "common.hpp"
#include "crmcore/records/duplicates.hpp"

namespace crmcore::bindings {

using namespace crmcore::records;

void bind_duplicates(py::module_& m) {
  py::class_<PinyinTable>(m, "PinyinTable", "Mandarin readings of Han characters, for duplicate search.")
      .def(py::init([](py::handle characters, py::handle readings) {
             const auto codes = to_vector<int64_t>(characters);
             const auto texts = to_texts(readings);
             if (codes.size() != texts.size())
               throw std::invalid_argument("characters and readings must have the same length");
             PinyinTable table;
             for (size_t i = 0; i < codes.size(); ++i) table.add(static_cast<char32_t>(codes[i]), texts[i]);
             return table;
           }),
           py::arg("characters"), py::arg("readings"))
      .def("spells_pinyin", &PinyinTable::spells_pinyin);

  m.def("duplicate_reasons", &duplicate_reason_names, "The text of each reason bit, lowest first.");
  m.def("duplicate_score_floor", &duplicate_score_floor);
  m.def("phone_key", [](const std::string& s) { return phone_key(s); });
  m.def("normalize_name", [](const std::string& s) {
    const NameForm f = normalize_name(s);
    return py::make_tuple(to_utf8(f.key), to_utf8(f.sorted), place_name(f.place));
  });
  m.def(
      "find_duplicates",
      // `pinyin` is a PinyinTable or None; taken as an object because
      // pybind11 would name a nullable pointer as the class alone, and the
      // type stubs would refuse None.
      [](py::handle names, py::handle phones, py::handle emails, py::object readings, double threshold,
         int max_typos, bool exhaustive) {
        const PinyinTable* pinyin = readings.is_none() ? nullptr : readings.cast<const PinyinTable*>();
        const auto n = to_texts(names), p = to_texts(phones), e = to_texts(emails);
        DuplicateOptions options;
        options.threshold = threshold;
        options.max_typos = max_typos;
        options.exhaustive = exhaustive;
        const PinyinTable none;
        DuplicatePairs r;
        {
          py::gil_scoped_release release;
          Cancel cancel = python_cancel();
          r = find_duplicates(n, p, e, pinyin ? *pinyin : none, options, cancel);
        }
        py::dict d;
        d["a"] = to_numpy(std::move(r.a));
        d["b"] = to_numpy(std::move(r.b));
        d["score"] = to_numpy(std::move(r.score));
        d["reasons"] = to_numpy(std::move(r.reasons));
        d["cluster"] = to_numpy(std::move(r.cluster));
        return d;
      },
      py::arg("names"), py::arg("phones"), py::arg("emails"), py::arg("pinyin"), py::arg("threshold"),
      py::arg("max_typos") = 2, py::arg("exhaustive") = false);
}

}  // namespace crmcore::bindings
