"""Documentation a notebook user reads (issue 13, item 6): every docstring
example of the package runs, and every public function and method of the
analysis surface has a docstring with an example that names its parameters."""
import doctest
import importlib
import inspect
import pkgutil
import re

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

import crmcore  # noqa: E402
from crmcore import graph, marketing, names, plotting, report, scoring, similarity  # noqa: E402
from crmcore.clv import plotting as clv_plotting  # noqa: E402
from crmcore.scoring import dimensions, store  # noqa: E402

# crmcore.spark's examples need a Spark session: tests/python/test_spark.py runs them in one.
MODULES = ["crmcore"] + sorted(m.name for m in pkgutil.walk_packages(crmcore.__path__, "crmcore.")
                               if m.name not in ("crmcore._core", "crmcore.__main__", "crmcore.spark"))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, extraglobs={"pd": pd, "np": np}, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0, name


def public_callables():
    """(name, function) of the analysis surface: the functions of crmcore.scoring,
    crmcore.plotting, crmcore.clv.plotting, crmcore.report, the methods the
    store gains from scoring, dimensions, names, the graph and similarity
    parts, the Graph's own, and db.marketing's."""
    for module in (scoring, plotting, clv_plotting, report, names):
        for attr in module.__all__:
            obj = getattr(module, attr)
            if inspect.isfunction(obj):
                yield f"{module.__name__}.{attr}", obj
    for cls in (store.ScoringMethods, dimensions.DimensionMethods, names.NameMethods, graph.GraphMethods, graph.Graph,
                similarity.SimilarityMethods, marketing.MarketingMethods):
        for attr, obj in vars(cls).items():
            if not attr.startswith("_") and inspect.isfunction(obj):
                yield f"{cls.__name__}.{attr}", obj


CALLABLES = sorted(public_callables())
# Parameters that keep lifetimes' names and meaning (documented there) or pass through.
PASSED_ON = {"kwargs", "thresholds", "args", "quadrant_args"}


@pytest.mark.parametrize("name,function", CALLABLES, ids=[n for n, _ in CALLABLES])
def test_public_callables_have_a_full_docstring(name, function):
    doc = inspect.getdoc(function) or ""
    assert ">>>" in doc, f"{name}: no example"
    text = doc.split(">>>")[0]
    refers = ":func:" in text or ":meth:" in text  # parameters described where the docstring points
    params = [p for p in inspect.signature(function).parameters if p not in {"self", "cls"} | PASSED_ON]
    unnamed = [p for p in params if not re.search(rf"\b{re.escape(p)}\b", text)]
    if name.startswith("crmcore.clv.plotting"):  # lifetimes' own arguments (title, xlabel, ...) keep its meaning
        unnamed = [p for p in unnamed if p not in ("title", "xlabel", "ylabel", "ax", "datetime_format",
                                                   "set_index_date", "freq", "model", "transactions",
                                                   "datetime_col", "customer_id_col", "max_frequency",
                                                   "max_recency", "T", "start_date")]
    assert not unnamed or refers, f"{name}: parameters not described: {unnamed}"
