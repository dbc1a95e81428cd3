"""Every plot renders headless (Agg) and draws what its data says: the
counts, labels and axes are read back from the figure and compared with the
analysis it was given, computed independently where it matters."""
import warnings

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

import crmcore as crm  # noqa: E402
from crmcore.plotting import _fonts  # noqa: E402

P = crm.plotting


@pytest.fixture(scope="module")
def db():
    d = crm.open(":memory:")
    crm.datasets.load(d, crm.datasets.synthetic(600, seed=3))
    return d


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def rendered(ax):
    """Draws the figure (as saving would), so that layout and fonts run."""
    ax.figure.canvas.draw()
    return ax


def test_rfm_grid_counts_every_scored_customer_in_its_cell(db):
    rfm = db.rfm()
    ax = rendered(P.rfm_grid(rfm))
    image = ax.get_images()[0].get_array()
    buyers = rfm[rfm["frequency"] > 0]
    want = pd.crosstab(buyers["r_score"], buyers["f_score"]).reindex(index=[5, 4, 3, 2, 1], columns=range(1, 6),
                                                                      fill_value=0)
    np.testing.assert_array_equal(np.asarray(image), want.to_numpy())
    assert [t.get_text() for t in ax.texts] == [str(v) for v in want.to_numpy().ravel()]
    assert ax.get_xlabel().startswith("F score") and ax.get_ylabel().startswith("R score")


def test_lifecycle_flow_draws_a_band_per_move_and_labels_both_dates(db):
    flow = db.lifecycle_flow("2024-12-31")
    ax = rendered(P.lifecycle_flow(flow))
    assert len(ax.collections) == int((flow.to_numpy() > 0).sum())
    labels = [t.get_text() for t in ax.texts]
    for stage, n in flow.sum(axis=1).items():
        if n:
            assert f"{stage} ({n})" in labels
    for stage, n in flow.sum(axis=0).items():
        if n:
            assert f"{stage} ({n})" in labels
    assert "2024-12-31" in ax.get_title() and str(db.default_as_of().date()) in ax.get_title()
    # Each band is as thick as the customers who made that move.
    def thickness(band):
        v = band.get_paths()[0].vertices
        return round(float(np.ptp(v[v[:, 0] == v[:, 0].min(), 1])))

    counts = flow.to_numpy()
    assert sorted(thickness(c) for c in ax.collections) == sorted(counts[counts > 0].tolist())


def test_cohort_heatmap_and_retention_curves(db):
    retention = db.cohorts("Q")
    ax = rendered(P.cohort_heatmap(retention))
    np.testing.assert_allclose(np.ma.filled(ax.get_images()[0].get_array(), np.nan), retention.to_numpy(float))
    shown = [t.get_text() for t in ax.texts]
    assert len(shown) == int(retention.notna().sum().sum()) and shown[0] == "100%"
    assert [t.get_text() for t in ax.get_yticklabels()] == [str(c) for c in retention.index]
    ax = rendered(P.retention_curves(retention, cohorts=3))
    lines = ax.get_lines()
    assert [line.get_label() for line in lines] == [str(c) for c in retention.index[-3:]] + ["mean"]
    np.testing.assert_allclose(lines[-1].get_ydata(), retention.mean().to_numpy(float))


def test_pipeline_funnel_bars_are_the_deals_reaching_each_stage(db):
    funnel = db.sales.funnel()
    ax = rendered(P.pipeline_funnel(funnel))
    widths = [p.get_width() for p in ax.patches]
    assert widths == funnel["deals"].astype(float).tolist()
    ticks = dict(zip(ax.get_yticks(), (t.get_text() for t in ax.get_yticklabels())))
    assert [ticks[y] for y in sorted(ticks, reverse=True)] == list(funnel.index)  # the first stage on top
    # Independently: deals whose furthest stage (by their history) is at or past each stage.
    history = db.frame("deal_stages").sort_values(["deal_id", "changed_at"])
    order = list(funnel.index)
    steps = history[history["stage"].isin(order)]
    furthest = steps["stage"].map(order.index).groupby(steps["deal_id"]).max()
    assert [int((furthest >= i).sum()) for i in range(len(order))] == funnel["deals"].tolist()


def test_profit_tiers_marks_each_tier(db):
    tiers = db.profit_tiers()
    ax = rendered(P.profit_tiers(tiers))
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert f"super ({int((tiers['tier'] == 'super').sum())})" in legend
    assert f"VIP ({int((tiers['tier'] == 'VIP').sum())})" in legend
    curve = ax.get_lines()[0].get_ydata()
    assert curve[-1] == pytest.approx(1.0) and np.all(np.diff(curve) >= -1e-12)


def test_performance_bars_show_the_largest_groups(db):
    perf = db.performance("channel")
    ax = rendered(P.performance_bars(perf, value="profit", top=3))
    top = perf["profit"].nlargest(3)
    assert [t.get_text() for t in ax.get_yticklabels()] == list(top.index[::-1])
    assert [p.get_width() for p in ax.patches] == top.iloc[::-1].tolist()
    assert ax.get_title() == "profit by channel"


def test_ego_network_writes_chinese_names_with_a_cjk_font(db):
    g = db.graph().simplify("max")
    center = int(g.degree().idxmax())
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a missing glyph would warn when drawn
        ax = rendered(P.ego_network(g, center, labels=g.labels))
    names = {t.get_text() for t in ax.texts}
    hood = g.ego(center, 1).nodes
    assert names == {str(g.labels.get(v)) if pd.notna(g.labels.get(v)) else str(v) for v in hood}
    assert any(any(ord(ch) >= 0x2E80 for ch in n) for n in names)  # the synthetic names are mostly Chinese
    assert _fonts.cjk_font() is not None, "scripts/setup.sh installs fonts-wqy-microhei"
    # Each name sits under its node on a pale ground, not under the marker
    # (drawn on the node, the marker hid the middle of a long name).
    nodes = np.asarray(ax.collections[-1].get_offsets())
    for t in ax.texts:
        x, y = t.get_position()
        assert (np.isclose(nodes[:, 0], x) & (nodes[:, 1] > y)).any() and t.get_bbox_patch() is not None
    assert all(_fonts.cjk_font() in t.get_fontfamily() for t in ax.texts)
    assert g.plot_ego(center).get_title().startswith("ego network of ")


@pytest.fixture(scope="module")
def fitted(db):
    from crmcore.clv import BetaGeoFitter
    from crmcore.clv.utils import calibration_and_holdout_data

    orders = db.frame("orders")
    orders = orders[~orders["status"].isin(["cancelled", "returned"])]
    end = orders["ordered_at"].max()
    cal_end = end - pd.Timedelta(days=180)
    matrix = calibration_and_holdout_data(orders, "customer_id", "ordered_at", calibration_period_end=cal_end,
                                          observation_period_end=end, freq="W")
    bgf = BetaGeoFitter(penalizer_coef=0.01).fit(matrix["frequency_cal"], matrix["recency_cal"], matrix["T_cal"])
    return bgf, matrix, orders


def test_clv_pictures(fitted):
    bgf, matrix, orders = fitted
    ax = rendered(P.plot_period_transactions(bgf))
    actual = [p.get_height() for p in ax.patches[:7]]
    assert actual == [float((matrix["frequency_cal"] == x).sum()) for x in range(7)]
    expected = sum(p.get_height() for p in ax.patches[7:])
    assert 0 < expected <= len(matrix)
    ax = rendered(P.plot_calibration_purchases_vs_holdout_purchases(bgf, matrix, n=5))
    holdout = matrix.groupby("frequency_cal")["frequency_holdout"].mean().iloc[:5]
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), holdout.to_numpy())
    one = orders[orders["customer_id"] == orders["customer_id"].value_counts().index[0]]
    ax = rendered(P.plot_history_alive(bgf, 100, one, "ordered_at", freq="W"))
    assert ax.get_ylabel() == "P_alive" and len(ax.get_lines()) >= 2
    for plot in (P.plot_cumulative_transactions, P.plot_incremental_transactions):
        ax = rendered(plot(bgf, orders, "ordered_at", "customer_id", 100, 70, freq="W"))
        assert [line.get_label() for line in ax.get_lines()] == ["actual", "predicted", "calibration period end"]
    cumulative = P.plot_cumulative_transactions(bgf, orders, "ordered_at", "customer_id", 100, 70, freq="W")
    incremental = P.plot_incremental_transactions(bgf, orders, "ordered_at", "customer_id", 100, 70, freq="W")
    np.testing.assert_allclose(np.cumsum(incremental.get_lines()[0].get_ydata()),
                               cumulative.get_lines()[0].get_ydata())
    for plot in (P.plot_frequency_recency_matrix, P.plot_probability_alive_matrix):
        ax = rendered(plot(bgf))
        assert ax.get_images()[0].get_array().shape[1] == int(matrix["frequency_cal"].max()) + 1
        # Cells fill the axes: with square cells a matrix of 130 recencies by
        # 30 purchases was a thin strip (seen on the demo store).
        assert ax.get_aspect() == "auto"


def test_period_transactions_expect_what_lifetimes_simulates(fitted):
    lifetimes = pytest.importorskip("lifetimes")
    bgf, matrix, _ = fitted
    ours = lifetimes.BetaGeoFitter(penalizer_coef=0.01).fit(matrix["frequency_cal"], matrix["recency_cal"],
                                                             matrix["T_cal"])
    simulated = ours.generate_new_data(size=len(matrix))["frequency"]
    ax = P.plot_period_transactions(bgf)
    model = np.array([p.get_height() for p in ax.patches[7:]])
    sim = np.array([(simulated == x).sum() for x in range(7)])
    # The exact expectation lies within a few standard errors of lifetimes' one simulation.
    assert np.all(np.abs(model - sim) <= 5 * np.sqrt(np.maximum(model, 1)) + 2)
