"""The 7P report renders: every section is there with its tables and
pictures, the pictures are real PNGs, the page needs nothing beside it, the
segment and period limit what it counts. When Chromium is installed (Debian's
package), the page is also opened headless and its screenshot checked."""
import base64
import html.parser
import io
import os
import shutil
import subprocess

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

import crmcore as crm  # noqa: E402
from crmcore.report import SECTIONS  # noqa: E402


class Page(html.parser.HTMLParser):
    """The parts of a page the tests read: sections, tables, images, links."""

    def __init__(self):
        super().__init__()
        self.sections, self.images, self.external, self.tables = [], [], [], {}
        self.section = None
        self.headings, self._in = [], None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "section":
            self.section = a.get("id")
            self.sections.append(self.section)
        elif tag == "img":
            self.images.append((self.section, a.get("src", "")))
        elif tag == "table":
            self.tables[self.section] = self.tables.get(self.section, 0) + 1
        elif tag in ("script", "link", "iframe"):
            self.external.append(tag)
        if tag in ("h2", "h3"):
            self._in = tag
        for name in ("src", "href"):
            value = a.get(name, "")
            if value and not value.startswith(("data:", "#")):
                self.external.append(value)

    def handle_data(self, data):
        if self._in:
            self.headings.append((self.section, data))

    def handle_endtag(self, tag):
        if tag == self._in:
            self._in = None


@pytest.fixture(scope="module")
def db():
    d = crm.open(":memory:")
    crm.datasets.load(d, crm.datasets.synthetic(800, seed=4))
    return d


@pytest.fixture(scope="module")
def report(db, tmp_path_factory):
    path = tmp_path_factory.mktemp("report") / "report.html"
    out = db.report_7p(by="region", path=path)
    return out, path


def parse(text):
    page = Page()
    page.feed(text)
    return page


def test_every_section_renders_with_tables_and_pictures(report):
    out, path = report
    text = path.read_text(encoding="utf-8")
    assert text == out.html and text.startswith("<!DOCTYPE html>")
    page = parse(text)
    assert page.sections == [key for key, _, _ in SECTIONS]
    titles = {s: [h for sec, h in page.headings if sec == s] for s in page.sections}
    for key, heading, _ in SECTIONS:
        assert titles[key][0] == heading
    # Tables in every section; pictures in every section with data (all have data here).
    for key, _, _ in SECTIONS:
        assert page.tables.get(key, 0) >= 1, key
        assert any(section == key for section, _ in page.images), key
    assert "Sales by region" in titles["performance"] and "Lifecycle stage by region" in titles["profiling"]


def test_pictures_are_embedded_pngs_and_nothing_is_fetched(report):
    from PIL import Image

    page = parse(report[0].html)
    assert not page.external  # self-contained: no script, stylesheet or remote picture
    assert len(page.images) >= 10
    for section, src in page.images:
        assert src.startswith("data:image/png;base64,"), section
        picture = Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1])))
        assert picture.format == "PNG" and min(picture.size) > 100
        pixels = np.asarray(picture.convert("L"))
        assert pixels.std() > 5, f"a blank picture in {section}"


def test_tables_hold_the_numbers_of_the_analyses(db, report):
    out, _ = report
    end = db.default_as_of()
    profiling = out.tables["profiling"]
    assert profiling["Customers by kind"]["customers"].sum() == db.count("customers")
    stages = db.lifecycle()["stage"].value_counts()
    assert profiling["Lifecycle stages"]["customers"].to_dict() == stages[stages.index].to_dict()
    # Performance: the period's purchases, by channel, as plain pandas sums them.
    orders = db.frame("orders")
    bought = orders[~orders["status"].isin(["cancelled", "returned"])]
    inside = bought[(bought["ordered_at"] >= end - pd.DateOffset(years=1)) & (bought["ordered_at"] < end)]
    channel = out.tables["performance"]["Sales by channel"]
    want = inside.groupby("channel")["amount"].sum()
    np.testing.assert_allclose(channel["revenue"].sort_index(), want.sort_index(), rtol=1e-9)
    effect = out.tables["promotion"]
    assert len(next(iter(effect.values()))) == ((db.frame("campaigns")["started_at"] >= end - pd.DateOffset(years=1))
                                                & (db.frame("campaigns")["started_at"] < end)).sum()
    # Promotion: the numbers db.marketing.campaigns gives for the same campaigns.
    table = next(iter(effect.values()))
    campaigns = db.marketing.campaigns(as_of=end).loc[table.index]
    measures = ["members", "revenue_per_member", "revenue_per_other", "lift", "incremental_revenue"]
    np.testing.assert_allclose(table[measures].astype(float), campaigns[measures].astype(float), rtol=1e-12)
    assert (table["responders"] == campaigns["responded"]).all()


def test_a_segment_and_a_period_limit_what_is_counted(db):
    out = db.report_7p(period="2024", segment={"kind": "B2B"})
    kinds = out.tables["profiling"]["Customers by kind"]
    b2b = (db.frame("customers")["kind"] == "organization").sum()
    assert kinds.index.tolist() == ["B2B"] and kinds["customers"].sum() == b2b
    assert "2024" in out.title and "kind = B2B" in out.title
    orders = db.frame("orders")
    b2b_ids = db.frame("customers").index[db.frame("customers")["kind"] == "organization"]
    bought = orders[~orders["status"].isin(["cancelled", "returned"]) & orders["customer_id"].isin(b2b_ids)
                    & (orders["ordered_at"].dt.year == 2024)]
    quarters = out.tables["profitability"]["Revenue and profit by quarter"]
    np.testing.assert_allclose(quarters["revenue"].sum(), bought["amount"].sum(), rtol=1e-9)
    assert quarters["orders"].sum() == len(bought)


def test_a_store_without_campaigns_or_lines_still_reports(tmp_path):
    db = crm.open(":memory:")
    a = db.add("customers", name="王芳", kind="person")
    for day, amount in (("2024-01-05", 10.0), ("2024-03-01", 25.0)):
        db.add("orders", customer_id=a, ordered_at=day, amount=amount, cost=4.0, channel="web")
    out = db.report_7p(path=tmp_path / "small.html")
    page = parse(out.html)
    assert page.sections == [key for key, _, _ in SECTIONS]
    assert "No campaign started in the period." in out.sections["promotion"]
    assert "No order lines naming a product in the period." in out.sections["product"]
    assert out._repr_html_().startswith('<div class="crm7p">')


def test_lines_naming_no_product_are_left_out_of_the_product_section():
    """A line without a product_id (a service charge, a line typed by hand)
    raised "order_lines row 0: the id is missing"; it is no product's."""
    db = crm.open(":memory:")
    a = db.add("customers", name="Ann")
    order = db.add("orders", customer_id=a, ordered_at="2024-03-01", amount=30.0, cost=10.0)
    db.add("order_lines", order_id=order, quantity=1, unit_price=10.0, unit_cost=4.0)
    out = db.report_7p()
    assert "No order lines naming a product in the period." in out.sections["product"]
    tea = db.add("products", sku="T1", name="Tea", unit_cost=2.0)
    db.add("order_lines", order_id=order, product_id=tea, quantity=2, unit_price=10.0)
    top = db.report_7p().tables["product"]["Top 10 products by profit"]
    assert top.index.tolist() == [tea]
    assert top.loc[tea, ["quantity", "revenue", "profit"]].tolist() == [2.0, 20.0, 16.0]


def test_bad_periods_are_refused(db):
    with pytest.raises(crm.ValidationError, match="period"):
        db.report_7p(period="next spring")
    with pytest.raises(crm.ValidationError, match="forward"):
        db.report_7p(period=("2025-01-01", "2024-01-01"))


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Chromium (Debian package chromium) is not installed")
def test_the_page_opens_in_headless_chromium(report, tmp_path):
    from PIL import Image

    _, path = report
    shot = tmp_path / "page.png"
    run = subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                          "--window-size=1200,3000", f"--screenshot={shot}", path.as_uri()],
                         capture_output=True, text=True, timeout=180, env={**os.environ, "HOME": str(tmp_path)})
    assert run.returncode == 0, run.stderr[-2000:]
    picture = np.asarray(Image.open(shot).convert("L"))
    assert picture.shape == (3000, 1200) and picture.std() > 10  # drawn, not a blank page
    dom = subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", path.as_uri()],
                         capture_output=True, text=True, timeout=180, env={**os.environ, "HOME": str(tmp_path)})
    assert [s for s in parse(dom.stdout).sections] == [key for key, _, _ in SECTIONS]


# Written into a copy of the page (the report itself runs no script): what
# the laid-out page measures, as JSON in a <pre> the dumped DOM carries.
MEASURE = """<script>window.addEventListener("load", function () {
  var cut = [];
  document.querySelectorAll("table").forEach(function (t) {
    var box = t.closest(".block");
    if (t.getBoundingClientRect().right > window.innerWidth || (box && box.scrollWidth > box.clientWidth))
      cut.push(t.closest("section").id + ": " + box.querySelector("h3").textContent);
  });
  var out = document.createElement("pre"); out.id = "measure";
  out.textContent = JSON.stringify({page: document.documentElement.scrollWidth, window: window.innerWidth, cut: cut});
  document.body.appendChild(out);
});</script>"""


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Chromium (Debian package chromium) is not installed")
def test_every_table_fits_a_1200_pixel_window(report, tmp_path):
    """The campaign table was 1,470 px wide in a 1,200 px window, its lift
    cut off: no part of the page may be wider than the window, and no table
    may be wider than its box (where it would scroll instead of showing)."""
    import json
    import re

    _, path = report
    probe = tmp_path / "measured.html"
    probe.write_text(path.read_text(encoding="utf-8").replace("</body>", MEASURE + "</body>"), encoding="utf-8")
    dom = subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--window-size=1200,3000",
                          "--virtual-time-budget=5000", "--dump-dom", probe.as_uri()],
                         capture_output=True, text=True, timeout=180, env={**os.environ, "HOME": str(tmp_path)})
    measured = json.loads(html.unescape(re.search(r'<pre id="measure">(.*?)</pre>', dom.stdout, re.S).group(1)))
    assert measured["window"] == 1200
    assert measured["page"] <= measured["window"] and measured["cut"] == [], measured


def test_held_out_members_are_not_members_in_the_promotion_table():
    """The report counted held-out members as members of a campaign, where
    db.marketing.campaigns counts them among the others (they were not touched)."""
    db = crm.open(":memory:")
    camp = db.add("campaigns", name="Spring", started_at="2024-03-01", budget=10.0)
    for i in range(4):
        c = db.add("customers", name=f"c{i}")
        db.add("campaign_members", campaign_id=camp, customer_id=c, holdout=i >= 2, responded_at=
               "2024-03-02" if i == 0 else None)
        db.add("orders", customer_id=c, ordered_at="2024-03-05", amount=10.0 * (i + 1), cost=1.0)
    table = next(iter(db.report_7p(period="2024").tables["promotion"].values()))
    row, want = table.loc[camp], db.marketing.campaigns().loc[camp]
    assert (row["members"], row["responders"]) == (want["members"], want["responded"]) == (2, 1)
    assert row["revenue_per_member"] == want["revenue_per_member"] == 15.0
    assert row["revenue_per_other"] == want["revenue_per_other"] == 35.0
