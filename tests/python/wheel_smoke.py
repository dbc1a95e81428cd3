"""A smoke run of an installed crmcore: open, import, find by phone, graph,
RFM and a CLV fit, each checked against a plain computation.

    python wheel_smoke.py          prints one JSON object of results

tests/python/test_wheel.py runs it in a fresh virtual environment that holds
only the built wheel and its dependencies, and once more in the development
build, and compares the two.
"""
import json
import os
import shutil
import sys
import tempfile

import numpy as np
import pandas as pd

import crmcore as crm
from crmcore.clv import BetaGeoFitter
from crmcore.clv.utils import summary_data_from_transaction_data

AS_OF = pd.Timestamp("2025-07-01")


def main():
    out = {"crmcore": os.path.dirname(crm.__file__), "versions": crm._versions.versions(),
           "build_tools": {tool: shutil.which(tool) for tool in ("cc", "gcc", "g++", "c++", "clang", "cmake", "ld")}}
    rng = np.random.default_rng(7)
    with tempfile.TemporaryDirectory() as folder:
        db = crm.open(os.path.join(folder, "smoke.crm"))
        names = ["上海星海科技有限公司", "Acme"] + [f"customer {i}" for i in range(58)]
        phones = ["+86 138 0013 8000", "(415) 555-0123"] + [f"139 {i:04d} 5678" for i in range(58)]
        cids = db.import_frame("customers", pd.DataFrame({"name": names, "phone": phones}))

        found = db.find("customers", phone="0086 138-0013-8000").index.tolist()
        assert found == [cids[0]], found
        assert db.find("customers", phone="+1 415 555 0123").index.tolist() == [cids[1]]
        out["found"] = [int(i) for i in found]

        # Orders: customers who buy at different rates over 18 months.
        rates = rng.gamma(1.5, 0.02, len(cids))
        rows = [(c, pd.Timestamp("2024-01-01") + pd.Timedelta(days=int(d)))
                for c, r in zip(cids, rates) for d in np.flatnonzero(rng.random(540) < r)]
        orders = pd.DataFrame(rows, columns=["customer_id", "ordered_at"])
        orders["amount"] = rng.gamma(2.0, 50.0, len(orders)).round(2)
        db.import_frame("orders", orders)
        stored = db.frame("orders", columns=["customer_id", "ordered_at", "amount"])

        # The graph: a ring of ten customers; every node has the same PageRank.
        ring = [int(c) for c in cids[:10]]
        for a, b in zip(ring, ring[1:] + ring[:1]):
            db.link(a, b, "knows")
        pagerank = db.graph().pagerank(damping=0.85)
        assert np.allclose(pagerank.to_numpy(), 0.1), pagerank
        out["pagerank"] = {str(k): float(v) for k, v in pagerank.items()}

        # RFM against a plain pandas count and sum.
        rfm = crm.scoring.rfm(stored, customer="customer_id", date="ordered_at", amount="amount", as_of=AS_OF)
        plain = stored.groupby("customer_id").agg(frequency=("amount", "size"), monetary=("amount", "sum"),
                                                  last=("ordered_at", "max"))
        assert (rfm.loc[plain.index, "frequency"] == plain.frequency).all()
        assert np.allclose(rfm.loc[plain.index, "monetary"], plain.monetary)
        assert (rfm.loc[plain.index, "recency"] == (AS_OF - plain["last"]).dt.days).all()
        out["rfm"] = {str(k): [int(r.recency), int(r.frequency), float(r.monetary)] for k, r in rfm.iterrows()}

        # A BG/NBD fit and a prediction from it.
        summary = summary_data_from_transaction_data(stored, "customer_id", "ordered_at",
                                                     observation_period_end=AS_OF, freq="D")
        bgf = BetaGeoFitter().fit(summary["frequency"], summary["recency"], summary["T"])
        alive = bgf.conditional_probability_alive(summary["frequency"], summary["recency"], summary["T"])
        assert all(v > 0 for v in bgf.params_) and ((alive >= 0) & (alive <= 1)).all()
        out["bgf"] = {k: float(v) for k, v in bgf.params_.items()}
        out["store"] = db.counts().to_dict()
        db.close()
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
