"""python -m crmcore.demo builds a store and reports what is really in it."""
import os
import re
import subprocess
import sys

import pandas as pd
import pytest

import crmcore as crm
from crmcore import demo


def _run(tmp_path, capsys, *args):
    assert demo.main(["--out", str(tmp_path / "demo.crm"), *args]) == 0
    return capsys.readouterr().out


def test_report_states_what_the_file_holds(tmp_path, capsys):
    out = _run(tmp_path, capsys, "--customers", "700", "--seed", "4")
    report = (tmp_path / "demo_report.md").read_text(encoding="utf-8")
    assert out.startswith(report)
    with crm.open(tmp_path / "demo.crm") as db:
        counts = {kind: db.count(kind) for kind in crm.datasets.KINDS}
        orders = db.frame("orders")
        customers = db.frame("customers")
    assert counts["customers"] == 700
    for kind, n in counts.items():
        assert n > 0, kind
        assert re.search(rf"^\| {kind} +\| +{n:,} \|$", report, re.M), kind
    # Yearly revenue totals as a plain pandas computation gives them.
    sold = orders[~orders.status.isin(["cancelled", "returned"])]  # the synthetic statuses that are not sales
    for year, total in sold.groupby(sold.ordered_at.dt.year).amount.sum().items():
        row = re.search(rf"^\| {year} \|.*\| +([\d,]+) \|$", report, re.M)
        assert row and int(row.group(1).replace(",", "")) == round(total), year
    # Revenue per product category, from a merge of lines, orders and products.
    with crm.open(tmp_path / "demo.crm") as db:
        lines = db.frame("order_lines").merge(db.frame("products"), left_on="product_id", right_index=True)
        lines = lines.merge(sold[[]], left_on="order_id", right_index=True)
        members = db.count("campaign_members")
    per_category = (lines.quantity * lines.unit_price).groupby(lines.category).sum()
    section = report.split("## Product categories")[1].split("##")[0]
    for category, revenue in per_category.items():
        row = re.search(rf"^\| {category} +\| +[\d,]+ \| +([\d,.]+) \|", section, re.M)
        assert row and float(row.group(1).replace(",", "")) == pytest.approx(revenue, abs=0.01), category
    section = report.split("## Campaigns by channel")[1].split("##")[0]
    listed = [int(m.replace(",", "")) for m in re.findall(r"^\| \w+ +\| +\d+ \| +([\d,]+) \|", section, re.M)]
    assert sum(listed) == members
    # The phone lookup found a customer, and it is the one whose orders are listed.
    lookup = report.split("## Looking a customer up by phone")[1].split("## Service")[0]
    assert "Not found" not in lookup and re.search(r"-> [1-9]\d* match", lookup)
    name = re.search(r"\*\*(.+?)\*\*", lookup).group(1)
    assert name in set(customers.name)
    assert "Recent orders" in lookup and "Recent interactions" in lookup
    assert "NPS" in report and "Win rate" in report
    # Sections for the graph and scoring parts appear once those parts exist.
    with crm.open(tmp_path / "demo.crm") as db:
        if hasattr(db, "graph"):
            section = report.split("(PageRank)")[1]
            rows = re.findall(r"^\| (\d+) +\| (\w+) +\|", section, re.M)
            assert len(rows) == 10
            assert all(db.kind_of(int(i)) == kind for i, kind in rows)
        else:
            assert "PageRank" not in report
    assert ("## RFM segments" in report) == hasattr(crm.scoring, "rfm")


def test_the_file_is_replaced_not_appended(tmp_path, capsys):
    _run(tmp_path, capsys, "--customers", "300")
    _run(tmp_path, capsys, "--customers", "200", "--seed", "9")
    with crm.open(tmp_path / "demo.crm") as db:
        assert db.count("customers") == 200
        assert db.integrity_check() == "ok"


def test_runs_as_a_module(tmp_path):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    done = subprocess.run([sys.executable, "-m", "crmcore.demo", "--customers", "150",
                           "--out", str(tmp_path / "x.crm")], capture_output=True, text=True, env=env,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert "# crmcore demo report" in done.stdout
    assert (tmp_path / "demo_report.md").exists()
    bad = subprocess.run([sys.executable, "-m", "crmcore.demo", "--customers", "0"],
                         capture_output=True, text=True, env=env, timeout=300)
    assert bad.returncode != 0 and "at least 1" in bad.stderr


def test_table_aligns_chinese_text():
    text = demo.table(pd.DataFrame({"name": ["上海星海科技有限公司", "Acme"], "n": [1, 22]}))
    widths = {demo._width(line) for line in text.splitlines()}
    assert len(widths) == 1
