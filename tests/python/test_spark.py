"""crmcore.spark (issue 14, part 2): the analyses on Spark DataFrames, in a real
local Spark session, against crmcore's in-process functions on the same data
and against independent references (plain pandas; lifetimes on CDNOW)."""
import doctest
import importlib.util
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import crmcore as crm
from crmcore.clv import (BetaGeoFitter, GammaGammaFitter, ModifiedBetaGeoFitter, ParetoNBDFitter,
                         summary_data_from_transaction_data)

if importlib.util.find_spec("pyspark") is None:
    pytest.skip("pyspark is not installed (pip install 'crmcore[spark]')", allow_module_level=True)
if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
    pytest.skip("no Java runtime for Spark (Debian: openjdk-17-jre-headless)", allow_module_level=True)

import pyarrow as pa  # noqa: E402

from crmcore import _spark_edges, spark as crm_spark  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
CANDIDATES = [REPO.parent / "shared" / "data" / "cdnow", REPO.parent.parent / "shared" / "data" / "cdnow"]
CDNOW = next((p for p in CANDIDATES if p.is_dir()), None)
needs_cdnow = pytest.mark.skipif(CDNOW is None, reason="CDNOW data not found beside the repository")


@pytest.fixture(scope="module")
def spark():
    from pyspark.sql import SparkSession

    # The workers are started by the JVM with its environment: the same
    # interpreter and the crmcore this test imports.
    package_root = str(Path(crm.__file__).resolve().parents[1])
    with pytest.MonkeyPatch.context() as env:
        env.setenv("PYSPARK_PYTHON", sys.executable)
        env.setenv("PYTHONPATH", os.pathsep.join([package_root] + [p for p in [os.environ.get("PYTHONPATH")] if p]))
        session = _session(SparkSession)
        yield session
        session.stop()


def _session(SparkSession):
    session = (SparkSession.builder.master("local[1]").appName("crmcore-tests")
               .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
               .config("spark.driver.memory", "512m")
               # Several partitions even on one core, so customers are spread over them.
               .config("spark.sql.shuffle.partitions", "4")
               .config("spark.sql.session.timeZone", "UTC").getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    return session


def transactions(n_customers=300, seed=7, ids="int"):
    """Purchases with many ties (whole-day dates, small counts, repeated
    amounts), some customers with one purchase, some with costs above revenue."""
    rng = np.random.default_rng(seed)
    per = rng.geometric(0.3, n_customers)
    cust = np.repeat(np.arange(n_customers) * 3 + 11, per)
    n = len(cust)
    days = rng.integers(0, 400, n)
    out = pd.DataFrame({
        "customer_id": cust if ids == "int" else np.array([f"c{c:05d}" for c in cust], dtype=object),
        "date": pd.Timestamp("2023-01-01") + pd.to_timedelta(days, unit="D"),
        "amount": rng.choice([5.0, 10.0, 12.5, 40.0, 99.99], n),
    })
    out["cost"] = out["amount"] * rng.choice([0.3, 0.6, 1.2], n)
    return out.sample(frac=1.0, random_state=1).reset_index(drop=True)


def to_spark(spark, frame):
    return spark.createDataFrame(pa.Table.from_pandas(frame, preserve_index=False))


def to_pandas(sdf, index):
    return sdf.toArrow().to_pandas().set_index(index).sort_index()


def pandas_rfm(tx, bins=5):
    """RFM by plain pandas: group-by totals, then qcut of ranks (equal values by id)."""
    as_of = tx["date"].max().normalize() + pd.Timedelta(days=1)
    g = tx.groupby("customer_id").agg(last=("date", "max"), frequency=("date", "size"), monetary=("amount", "sum"))
    g = g.sort_index()
    g["recency"] = (as_of - g["last"]) / pd.Timedelta(days=1)
    for col, sign, name in (("recency", -1, "r_score"), ("frequency", 1, "f_score"), ("monetary", 1, "m_score")):
        g[name] = pd.qcut((sign * g[col]).rank(method="first"), bins, labels=False) + 1
    return g


def test_rfm_matches_in_process_and_pandas(spark):
    tx = transactions()
    got = to_pandas(crm_spark.rfm(to_spark(spark, tx)), "customer_id")
    want = crm.scoring.rfm(tx)
    assert list(got.index) == list(want.index)
    for col in ["recency", "frequency", "monetary", "r_score", "f_score", "m_score"]:
        np.testing.assert_array_equal(got[col].to_numpy(), want[col].to_numpy(), err_msg=col)
    assert got["segment"].tolist() == want["segment"].astype(str).tolist()
    np.testing.assert_array_equal(got["last_purchase"].dt.tz_convert(None).to_numpy(),
                                  want["last_purchase"].to_numpy())
    ref = pandas_rfm(tx)
    np.testing.assert_allclose(got["recency"].to_numpy(), ref["recency"].to_numpy(), rtol=0, atol=1e-9)
    for col in ["frequency", "monetary", "r_score", "f_score", "m_score"]:
        np.testing.assert_allclose(got[col].to_numpy(dtype=float), ref[col].to_numpy(dtype=float), rtol=1e-12,
                                   err_msg=col)


def test_rfm_string_ids_dates_ties_min_bins_and_as_of_match_in_process(spark):
    tx = transactions(n_customers=150, seed=3, ids="str")
    as_of = "2023-10-01"
    # Whole days as a Spark date column (read as midnight UTC), into 3 partitions.
    days = pa.Table.from_pandas(tx, preserve_index=False)
    days = days.set_column(days.schema.get_field_index("date"), "date", days.column("date").cast(pa.date32()))
    sdf = spark.createDataFrame(days)
    assert sdf.schema["date"].dataType.simpleString() == "date"
    got = to_pandas(crm_spark.rfm(sdf, as_of=as_of, bins=4, ties="min", partitions=3), "customer_id")
    want = crm.scoring.rfm(tx, as_of=as_of, bins=4, ties="min")
    assert list(got.index) == list(want.index)
    for col in ["recency", "frequency", "monetary", "r_score", "f_score", "m_score"]:
        np.testing.assert_array_equal(got[col].to_numpy(), want[col].to_numpy(), err_msg=col)
    assert got["segment"].tolist() == want["segment"].astype(str).tolist()
    # Equal values share a score with ties="min" (the property the option exists for).
    assert (got.groupby("frequency")["f_score"].nunique() == 1).all()


@pytest.mark.parametrize("ids,samples,bins,ties", [("int", 1, 5, "first"), ("int", 3, 10, "min"),
                                                   ("int", 3, 7, "first"), ("str", 2, 3, "min"),
                                                   ("str", 3, 5, "first")])
def test_rfm_edges_found_from_small_samples_score_every_tie_as_in_process(spark, monkeypatch, ids, samples, bins,
                                                                          ties):
    """With a few sampled rows per partition the bins' edges are bracketed
    loosely and picked among many rows of equal value (frequency, whole-day
    recency, repeated amounts; 0.0 and -0.0 totals, which must tie): every
    score must still be the in-process one, for ties first and min and any bins."""
    tx = transactions(n_customers=400, seed=11, ids=ids)
    zero = tx.groupby("customer_id").head(1).index[:40]
    tx = tx.drop(tx.index[tx["customer_id"].isin(tx.loc[zero, "customer_id"]) & ~tx.index.isin(zero)])
    tx.loc[zero[:20], "amount"] = 0.0
    tx.loc[zero[20:], "amount"] = -0.0
    monkeypatch.setattr(_spark_edges, "_SAMPLES", samples)
    got = to_pandas(crm_spark.rfm(to_spark(spark, tx), bins=bins, ties=ties, partitions=4), "customer_id")
    want = crm.scoring.rfm(tx, bins=bins, ties=ties)
    assert list(got.index) == list(want.index)
    for col in ["r_score", "f_score", "m_score"]:
        np.testing.assert_array_equal(got[col].to_numpy(), want[col].to_numpy(), err_msg=col)


def test_rfm_of_one_customer_and_of_none(spark):
    tx = transactions(n_customers=1)
    got = to_pandas(crm_spark.rfm(to_spark(spark, tx)), "customer_id")
    want = crm.scoring.rfm(tx)
    np.testing.assert_array_equal(got[["r_score", "f_score", "m_score"]].to_numpy(),
                                  want[["r_score", "f_score", "m_score"]].to_numpy())
    late = crm_spark.rfm(to_spark(spark, tx), as_of="2000-01-01")
    assert late.count() == 0


def test_missing_values_are_refused_naming_column_and_customer(spark):
    tx = transactions(n_customers=20)
    tx.loc[5, "amount"] = np.nan
    with pytest.raises(crm.ValidationError, match=rf"'amount'.*customer {tx.loc[5, 'customer_id']}|"
                                                    rf"customer {tx.loc[5, 'customer_id']}.*'amount'"):
        crm_spark.rfm(to_spark(spark, tx))
    with pytest.raises(crm.ValidationError, match="missing|miss"):
        crm_spark.clv_summary(to_spark(spark, transactions(20).assign(date=pd.NaT)))


def test_profit_matches_in_process_and_pandas(spark):
    tx = transactions(seed=11)
    got = to_pandas(crm_spark.profit(to_spark(spark, tx)), "customer_id")
    want = crm.scoring.profit(tx)
    assert list(got.index) == list(want.index)
    for col in ["orders", "revenue", "cost", "profit", "margin"]:
        np.testing.assert_allclose(got[col].to_numpy(dtype=float), want[col].to_numpy(dtype=float), rtol=1e-12,
                                   err_msg=col)
    np.testing.assert_allclose(got["share"].to_numpy(), want["share"].to_numpy(), rtol=1e-12, atol=1e-15)
    assert got["abc"].tolist() == want["abc"].astype(str).tolist()
    assert (got["profit"] <= 0).any() and set(got["abc"]) == {"A", "B", "C"}
    # Plain pandas: totals by group-by, classes by cumulative share of the sorted positive profit.
    ref = tx.groupby("customer_id").agg(revenue=("amount", "sum"), cost=("cost", "sum"))
    ref["profit"] = ref["revenue"] - ref["cost"]
    pos = ref["profit"].clip(lower=0)
    ordered = pos.sort_values(ascending=False, kind="stable")
    before = (ordered.cumsum() - ordered) / pos.sum()
    cls = pd.Series(np.select([before < 0.8, before < 0.95], ["A", "B"], "C"), index=ordered.index)
    cls[ordered <= 0] = "C"
    np.testing.assert_allclose(got["profit"].to_numpy(), ref["profit"].to_numpy(), rtol=1e-12)
    assert got["abc"].tolist() == cls.reindex(got.index).tolist()



@pytest.mark.parametrize("ids,samples,partitions", [("int", 1, 4), ("int", 3, 16), ("str", 2, 7), ("int", 8, 2),
                                                    ("str", 5, 3), ("int", 1024, 3)])
def test_profit_classes_from_small_samples_split_ties_at_a_cut_off_as_in_process(spark, monkeypatch, ids, samples,
                                                                                partitions):
    """Profits of 3 (40 customers), 1 (100), 0 and -2 (20 each): the total
    is 220 and the shares before the customers of profit 1 reach exactly 0.8
    (176) and 0.95 (209) inside that run of ties, where only the ids order
    them. With a few samples per (tiny) partition the boundaries are bracketed
    loosely among many equal profits; two profits that overflow to inf have no
    class. Every class must be the in-process one and plain pandas' count."""
    profits = np.r_[np.full(40, 3.0), np.full(100, 1.0), np.zeros(20), np.full(20, -2.0)]
    rng = np.random.default_rng(3)
    cust = rng.permutation(len(profits)) * 7 + 5
    tx = pd.DataFrame({"customer_id": cust, "date": pd.Timestamp("2024-01-01"), "amount": profits + 10.0,
                       "cost": 10.0})
    huge = pd.DataFrame({"customer_id": [2, 2, 4000, 4000], "date": pd.Timestamp("2024-01-01"),
                         "amount": [1e308] * 4, "cost": 0.0})
    tx = pd.concat([tx, huge], ignore_index=True).sample(frac=1.0, random_state=2)
    if ids == "str":
        tx["customer_id"] = [f"c{c:05d}" for c in tx["customer_id"]]
    monkeypatch.setattr(_spark_edges, "_SAMPLES", samples)
    got = to_pandas(crm_spark.profit(to_spark(spark, tx), partitions=partitions), "customer_id")
    with pytest.warns(crm.scoring.TotalOverflowWarning):
        want = crm.scoring.profit(tx)
    assert list(got.index) == list(want.index)
    assert got["abc"].fillna("none").tolist() == want["abc"].astype(object).fillna("none").tolist()
    np.testing.assert_allclose(got["share"].to_numpy(), want["share"].to_numpy(), rtol=1e-15)
    # By hand: of the customers of profit 1, in id order, the first 56 are A, the next 33 B, the rest C.
    ones = got[got["profit"] == 1.0].sort_index()["abc"].tolist()
    assert ones == ["A"] * 56 + ["B"] * 33 + ["C"] * 11
    assert (got.loc[got["profit"] == 3.0, "abc"] == "A").all() and (got.loc[got["profit"] <= 0, "abc"] == "C").all()
    assert got.loc[np.isinf(got["profit"]), "abc"].isna().all() and np.isinf(got["profit"]).sum() == 2


def test_profit_tiers_match_in_process_and_pandas(spark):
    tx = transactions(seed=5)
    got = to_pandas(crm_spark.profit_tiers(to_spark(spark, tx), freq="Q", vip_top=0.2, super_top=0.05),
                    "customer_id")
    want = crm.scoring.profit_tiers(tx, freq="Q", vip_top=0.2, super_top=0.05)
    assert list(got.index) == list(want.index)
    for col in ["profit", "contribution", "cum_contribution"]:
        np.testing.assert_allclose(got[col].to_numpy(), want[col].to_numpy(), rtol=1e-12, atol=1e-15, err_msg=col)
    np.testing.assert_array_equal(got["rank"].to_numpy(), want["rank"].to_numpy())
    for col in ["abc", "tier"]:
        assert got[col].tolist() == want[col].astype(str).tolist(), col
    assert set(got["tier"]) == {"super", "VIP", "normal"}
    # Plain pandas: the quarter before midnight after the latest purchase, ranks by sorting.
    end = tx["date"].max().normalize() + pd.Timedelta(days=1)
    inside = tx["date"] > end - pd.DateOffset(months=3)
    gain = (tx["amount"] - tx["cost"]).where(inside, 0.0).groupby(tx["customer_id"]).sum()
    order = gain.reset_index().sort_values(["customer_id"]).sort_values(0, ascending=False, kind="stable")
    rank = pd.Series(np.arange(1, len(order) + 1), index=order["customer_id"]).sort_index()
    n = len(gain)
    tier = np.where((gain > 0) & (rank <= np.ceil(0.05 * n)), "super",
                    np.where((gain > 0) & (rank <= np.ceil(0.2 * n)), "VIP", "normal"))
    np.testing.assert_allclose(got["profit"].to_numpy(), gain.sort_index().to_numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(got["rank"].to_numpy(), rank.to_numpy())
    assert got["tier"].tolist() == list(tier)
    with pytest.raises(crm.ValidationError, match="period"):
        crm_spark.profit_tiers(to_spark(spark, tx), period="not a year")

@pytest.fixture(scope="module")
def cdnow_tx():
    tx = pd.read_csv(CDNOW / "CDNOW_master.txt", sep=r"\s+", dtype={"date": str})
    tx["date"] = pd.to_datetime(tx["date"], format="%Y%m%d")
    return tx


@pytest.fixture(scope="module")
def cdnow_summary(spark, cdnow_tx):
    sdf = to_spark(spark, cdnow_tx)
    return crm_spark.clv_summary(sdf, "customer_id", "date", "dollar_value", freq="W").localCheckpoint()


@needs_cdnow
def test_clv_summary_on_cdnow_matches_in_process_and_lifetimes(cdnow_summary, cdnow_tx):
    from lifetimes.utils import summary_data_from_transaction_data as lifetimes_summary

    got = to_pandas(cdnow_summary, "customer_id")
    want = summary_data_from_transaction_data(cdnow_tx, "customer_id", "date", "dollar_value", freq="W")
    assert list(got.index) == list(want.index) and len(got) == 23_570
    pd.testing.assert_frame_equal(got[list(want.columns)], want, check_exact=True, check_names=False)
    ref = lifetimes_summary(cdnow_tx, "customer_id", "date", "dollar_value", freq="W")
    np.testing.assert_allclose(got[list(ref.columns)].to_numpy(), ref.to_numpy(), rtol=1e-12, atol=1e-12)


@needs_cdnow
def test_fit_and_predict_on_cdnow_match_the_in_process_fit(cdnow_summary):
    from lifetimes import BetaGeoFitter as LifetimesBG

    bgf, ggf = crm_spark.fit_clv(cdnow_summary)
    s = to_pandas(cdnow_summary, "customer_id")
    want_bg = BetaGeoFitter().fit(s["frequency"], s["recency"], s["T"])
    repeat = s[(s["frequency"] > 0) & (s["monetary_value"] > 0)]
    want_gg = GammaGammaFitter().fit(repeat["frequency"], repeat["monetary_value"])
    np.testing.assert_allclose(bgf.params_.to_numpy(), want_bg.params_.to_numpy(), rtol=1e-9)
    np.testing.assert_allclose(ggf.params_.to_numpy(), want_gg.params_.to_numpy(), rtol=1e-9)
    # The fit on counts of distinct triples is far smaller than one row per customer.
    assert len(bgf.data) < len(s) / 4 and bgf.data["weights"].sum() == len(s)
    # An independent fit: lifetimes' optimizer on one row per customer.
    ref = LifetimesBG().fit(s["frequency"], s["recency"], s["T"])
    np.testing.assert_allclose(bgf.params_[["r", "alpha", "a", "b"]].to_numpy(),
                               ref.params_[["r", "alpha", "a", "b"]].to_numpy(), rtol=1e-3)

    got = to_pandas(crm_spark.predict_clv(cdnow_summary, bgf, ggf, t=52, time=12, freq="W"), "customer_id")
    np.testing.assert_allclose(got["predicted_purchases"].to_numpy(),
                               want_bg.predict(52, s["frequency"], s["recency"], s["T"]).to_numpy(), rtol=1e-9)
    np.testing.assert_allclose(got["p_alive"].to_numpy(),
                               want_bg.conditional_probability_alive(s["frequency"], s["recency"], s["T"]),
                               rtol=1e-9)
    np.testing.assert_allclose(got["expected_spend"].to_numpy(), want_gg.conditional_expected_average_profit(
        s["frequency"], s["monetary_value"]).to_numpy(), rtol=1e-9)
    clv = want_gg.customer_lifetime_value(want_bg, s["frequency"], s["recency"], s["T"], s["monetary_value"],
                                          time=12, freq="W")
    np.testing.assert_allclose(got["clv"].to_numpy(), clv.to_numpy(), rtol=1e-9)
    with pytest.raises(crm.ValidationError, match="freq"):
        crm_spark.predict_clv(cdnow_summary, bgf, ggf, freq="fortnight")


def test_docstring_examples_run(spark):
    result = doctest.testmod(crm_spark, extraglobs={"spark": spark, "pd": pd, "np": np},
                             optionflags=doctest.ELLIPSIS)
    assert result.attempted > 5 and result.failed == 0


def _bench():
    spec = importlib.util.spec_from_file_location("bench_spark", REPO / "benchmarks" / "bench_spark.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    return bench


def test_benchmark_agrees_with_spark_sql_at_toy_size(spark, tmp_path):
    """benchmarks/bench_spark.py (its figures in benchmarks/README.md) still
    runs and each analysis agrees with its version without crmcore (the
    benchmark raises otherwise); run here on this session, untimed, with the
    data written in several chunks as at full size."""
    bench = _bench()
    result = bench.run(spark, rows=3_000, customers=300, partitions=4, chunk=1_000, folder=str(tmp_path),
                       analyses=("summary", "rfm"))
    assert 0 < result["customers"] <= 300 and [r[0] for r in result["results"]] == ["summary", "rfm"]


def test_benchmark_profit_tiers_and_affinity_agree_with_spark_sql_at_toy_size(spark, tmp_path):
    """The benchmark's Spark SQL versions of profit, tiers and product
    affinity (written without crmcore) give crmcore.spark's results."""
    bench = _bench()
    result = bench.run(spark, rows=3_000, customers=300, partitions=4, chunk=1_000, folder=str(tmp_path),
                       analyses=("profit", "tiers", "affinity"))
    assert [r[0] for r in result["results"]] == ["profit", "tiers", "affinity"]
    assert "identical 0 rules" not in result["results"][2][4]


@pytest.mark.slow
def test_benchmark_fits_and_predictions_agree_with_lifetimes_at_small_size(spark, tmp_path):
    """The benchmark's fits (fit_clv = in-process fit to 1e-9, lifetimes
    close) and predictions (crmcore = lifetimes in a pandas UDF): enough
    customers for the models to converge, read from the file uncached as at 100M."""
    bench = _bench()
    result = bench.run(spark, rows=20_000, customers=2_000, partitions=4, chunk=7_000, folder=str(tmp_path),
                       cache="none", analyses=("fit", "predict"))
    assert [r[0] for r in result["results"]] == ["fit", "predict"]
    assert result["params"]["crmcore"]["r"] == pytest.approx(result["params"]["lifetimes"]["r"], rel=1e-3)


def _rules(frame):
    """Rules keyed by (antecedent, consequent), in their order."""
    return {(tuple(r["antecedent"]), tuple(r["consequent"])):
            tuple(r[c] for c in ("antecedent_support", "consequent_support", "support", "confidence", "lift"))
            for r in frame.to_dict("records")}


def test_product_affinity_matches_the_stores_and_plain_pandas(spark):
    from crmcore.scoring._status import purchases

    db = crm.open(":memory:")
    crm.datasets.load(db, crm.datasets.synthetic(n_customers=400, seed=5), progress=False)
    bought = purchases(db.frame("orders", columns=["customer_id", "ordered_at", "status"]))
    lines = db.frame("order_lines", columns=["order_id", "product_id"])
    lines = lines[lines["order_id"].isin(bought.index)].reset_index(drop=True)
    for support, confidence, longest in ((0.004, 0.0, 3), (0.01, 0.2, None)):
        want = db.product_affinity(min_support=support, min_confidence=confidence, max_len=longest)
        got = crm_spark.product_affinity(to_spark(spark, lines), min_support=support, min_confidence=confidence,
                                         max_len=longest, partitions=5).toArrow().to_pandas()
        assert len(want) > 10
        # The same kernel on the same totals: the same rules, numbers and order.
        assert list(_rules(got).items()) == list(_rules(want).items())
    # Pairs counted by plain pandas: the baskets holding both products.
    pairs = lines.dropna().drop_duplicates().merge(lines.dropna().drop_duplicates(), on="order_id")
    pairs = pairs[pairs["product_id_x"] < pairs["product_id_y"]].groupby(["product_id_x", "product_id_y"]).size()
    n = lines.dropna()["order_id"].nunique()
    for (a, c), values in _rules(got).items():
        if len(a) == 1 and len(c) == 1:
            assert values[2] == pytest.approx(pairs[(min(a[0], c[0]), max(a[0], c[0]))] / n)


def test_product_affinity_sums_itemsets_over_the_partitions(spark):
    """An itemset exactly at the bar overall, its baskets spread over eight
    partitions: its support is the total of every partition's count."""
    rows = []
    for b in range(40):
        rows += [(b, 100 + b % 7)]
        if b % 8 == 0:
            rows += [(b, 1), (b, 2)]
    lines = pd.DataFrame(rows, columns=["order_id", "product_id"])
    want = crm.scoring.product_affinity(lines, min_support=0.125)
    got = crm_spark.product_affinity(to_spark(spark, lines), min_support=0.125, partitions=8).toArrow().to_pandas()
    assert list(_rules(got).items()) == list(_rules(want).items())
    assert ((1,), (2,)) in _rules(got)
    empty = crm_spark.product_affinity(to_spark(spark, lines), min_support=0.9).toArrow().to_pandas()
    assert empty.empty and list(empty.columns) == list(want.columns)
    with pytest.raises(crm.ValidationError, match="integer product ids"):
        crm_spark.product_affinity(to_spark(spark, lines.astype({"product_id": str})))


def test_graph_from_spark_is_the_graph_of_the_same_rows(spark):
    """Graph.from_spark (issue 14, the graph at scale): the edge columns come
    as Arrow, never pandas rows; NetworkX on the same rows is the reference."""
    import networkx as nx

    rng = np.random.default_rng(5)
    src = rng.integers(0, 400, 5000) + 10**15
    dst = (src + rng.integers(1, 50, 5000)).astype(np.int64)
    w = rng.uniform(0.5, 3.0, 5000).round(4)
    kinds = rng.choice(["knows", "works_at"], 5000)
    edges = pd.DataFrame({"a": src, "b": dst, "w": w, "k": kinds})
    g = crm.Graph.from_spark(to_spark(spark, edges), src="a", dst="b", weight="w", type="k")
    G = nx.MultiGraph()
    G.add_edges_from((a, b, {"weight": x, "type": t}) for a, b, x, t in edges.itertuples(index=False))
    assert (g.num_nodes, g.num_edges) == (G.number_of_nodes(), G.number_of_edges())
    assert {int(k): int(v) for k, v in g.degree().items()} == dict(G.degree())
    got = sorted((a, b, round(x, 9), t) for a, b, x, t in g.edges().itertuples(index=False))
    assert got == sorted((a, b, round(x, 9), t) for a, b, x, t in edges.itertuples(index=False))
    with pytest.raises(crm.ValidationError, match="row 3 is null") as e:
        crm.Graph.from_spark(spark.createDataFrame([(1, 2), (2, 3), (3, 4), (4, None)], "a long, b long"),
                             src="a", dst="b")
    assert "field 'b'" in str(e.value)
    with pytest.raises(crm.ValidationError, match="not integer ids"):
        crm.Graph.from_spark(spark.createDataFrame([("x", 2)], "a string, b long"), src="a", dst="b")
    with pytest.raises(crm.ValidationError, match="is not a column"):
        crm.Graph.from_spark(spark.createDataFrame([(1, 2)], "a long, b long"), src="a", dst="nope")


def _write_parquet(frame, path):
    """Writes `frame` as pyarrow writes a naive pandas time (microseconds, no
    zone), which Spark reads back as timestamp_ntz."""
    import pyarrow.parquet as pq

    path.mkdir()
    table = pa.Table.from_pandas(frame, preserve_index=False)
    pq.write_table(table, path / "part-0.parquet", coerce_timestamps="us")


def test_wall_times_from_parquet_are_read_as_utc_in_any_session_time_zone(spark, tmp_path):
    """A Parquet file written from pandas holds naive times, which Spark reads
    as timestamp_ntz: they were refused ("must be a Spark timestamp or date
    column"); they are read as UTC, as in process, also when the session's
    time zone is not UTC (a cast to timestamp would shift them by its offset
    and move purchases near midnight to another day)."""
    tx = transactions(200, seed=3)
    rng = np.random.default_rng(3)
    tx["date"] += pd.to_timedelta(rng.integers(0, 86_400 * 10**6, len(tx)), unit="us")
    _write_parquet(tx, tmp_path / "tx")
    sdf = spark.read.parquet(str(tmp_path / "tx"))
    assert sdf.schema["date"].dataType.simpleString() == "timestamp_ntz"
    want = summary_data_from_transaction_data(tx, "customer_id", "date", "amount")
    want_rfm = crm.scoring.rfm(tx, "customer_id", "date", "amount")
    zone = spark.conf.get("spark.sql.session.timeZone")
    try:
        for tz in ("UTC", "America/New_York", "Asia/Kolkata"):
            spark.conf.set("spark.sql.session.timeZone", tz)
            got = to_pandas(crm_spark.clv_summary(sdf, amount="amount"), "customer_id")
            pd.testing.assert_frame_equal(got[list(want.columns)], want, check_exact=True, check_names=False)
            rfm = to_pandas(crm_spark.rfm(sdf), "customer_id")
            np.testing.assert_array_equal(rfm["recency"].to_numpy(), want_rfm["recency"].to_numpy())
            np.testing.assert_array_equal(rfm["r_score"].to_numpy(), want_rfm["r_score"].to_numpy())
    finally:
        spark.conf.set("spark.sql.session.timeZone", zone)


@needs_cdnow
@pytest.mark.parametrize("make", [lambda: ModifiedBetaGeoFitter(), lambda: ParetoNBDFitter(),
                                  lambda: BetaGeoFitter(penalizer_coef=0.01)], ids=["mbg", "pareto", "penalized"])
def test_fit_clv_with_every_transaction_model_matches_the_in_process_fit(cdnow_summary, make):
    """fit_clv's other models (and a penalizer) give the in-process
    parameters to 1e-9 and predict as the in-process model does."""
    model, _ = crm_spark.fit_clv(cdnow_summary.drop("monetary_value"), make())
    s = to_pandas(cdnow_summary, "customer_id")
    want = make().fit(s["frequency"], s["recency"], s["T"])
    np.testing.assert_allclose(model.params_.to_numpy(), want.params_.to_numpy(), rtol=1e-9)
    assert model.data["weights"].sum() == len(s)
    got = to_pandas(crm_spark.predict_clv(cdnow_summary, model, t=52, freq="W"), "customer_id")
    np.testing.assert_allclose(got["predicted_purchases"].to_numpy(),
                               want.predict(52, s["frequency"], s["recency"], s["T"]).to_numpy(), rtol=1e-9)
    np.testing.assert_allclose(got["p_alive"].to_numpy(), np.asarray(want.conditional_probability_alive(
        s["frequency"], s["recency"], s["T"]), dtype=float).reshape(-1), rtol=1e-9)
    assert "clv" not in got.columns  # no spend model given


@pytest.mark.slow
def test_the_readme_spark_section_runs_as_written(spark, tmp_path):
    """README's "Analyses on Spark" block, verbatim, on Parquet folders of
    the columns it names, as pandas users write them (naive times)."""
    text = (REPO / "README.md").read_text()
    section = text.split("\n## Analyses on Spark\n", 1)[1].split("\n### ", 1)[0]
    block = section.split("```python\n", 1)[1].split("```", 1)[0]
    _write_parquet(transactions(300, seed=9), tmp_path / "orders")
    rng = np.random.default_rng(9)
    orders = rng.integers(0, 400, 3000)
    _write_parquet(pd.DataFrame({"order_id": orders, "product_id": (orders * 7 + rng.integers(0, 3, 3000)) % 11}),
                   tmp_path / "order_lines")
    # Spark resolves a relative path in its JVM's folder, where this session
    # started, so the block's two folders are given as absolute paths here.
    assert block.count('"orders/"') == 1 and block.count('"order_lines/"') == 1
    block = block.replace('"orders/"', repr(str(tmp_path / "orders"))).replace(
        '"order_lines/"', repr(str(tmp_path / "order_lines")))
    space: dict = {}
    exec(compile(block, "README.md", "exec"), space)
    assert space["spark"] is spark  # the session the block opened is the running one
    assert space["bgf"].params_["r"] > 0 and space["summary"].count() == 300


def test_the_spark_extra_is_pinned_and_named_when_pyspark_is_missing(monkeypatch):
    """`pip install 'crmcore[spark]'`: the extra pins each package to a range
    (a lower and an upper bound) that the versions these tests run on meet,
    and without PySpark the functions say which extra to install."""
    import tomllib
    from importlib.metadata import version

    from packaging.requirements import Requirement

    extra = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]["spark"]
    wanted = {r.name: r.specifier for r in map(Requirement, extra)}
    assert set(wanted) == {"pyspark", "pyarrow"}
    for name, spec in wanted.items():
        assert {s.operator for s in spec} == {">=", "<"}, name
        assert spec.contains(version(name)), (name, version(name), spec)
    monkeypatch.setitem(sys.modules, "pyspark.sql", None)  # as if PySpark were not installed
    with pytest.raises(ImportError, match=r"pip install 'crmcore\[spark\]'"):
        crm_spark.rfm(None)
