"""The CDNOW transactions of Fader and Hardie, as a tidy DataFrame."""
import os
import pathlib

import numpy as np
import pandas as pd

_FILE = "CDNOW_master.txt"


def _candidates():
    env = os.environ.get("CRMCORE_DATA")
    if env:
        yield pathlib.Path(env) / "cdnow"
    # The shared data folder sits next to the clone (<repo>/../shared); look
    # up from the package source (a checkout, or a .venv inside the clone) and
    # from the working directory.
    seen = set()
    for start in (pathlib.Path(__file__).resolve(), pathlib.Path.cwd().resolve()):
        for folder in start.parents:
            candidate = folder / "shared" / "data" / "cdnow"
            if candidate not in seen:
                seen.add(candidate)
                yield candidate


def cdnow(path=None):
    """The CDNOW master file: one row per purchase.

    Columns: customer_id (int), date (datetime64[ns]), cds (number of CDs),
    amount (dollars). `path` may be the file or its folder; by default the
    shared data folder next to the repository (or $CRMCORE_DATA/cdnow).

    >>> tx = cdnow()
    >>> tx.customer_id.nunique()
    23570
    """
    if path is None:
        found = [p / _FILE for p in _candidates() if (p / _FILE).is_file()]
        if not found:
            raise FileNotFoundError(
                f"{_FILE} not found in {', '.join(str(p) for p in _candidates())}; pass cdnow(path=...)")
        path = found[0]
    path = pathlib.Path(path)
    if path.is_dir():
        path = path / _FILE
    with open(path, encoding="ascii") as f:
        first = f.readline().split()
    header = 0 if first and not first[0].isdigit() else None
    raw = pd.read_csv(path, sep=r"\s+", header=header, names=["customer_id", "date", "cds", "amount"],
                      dtype={"customer_id": np.int64, "date": str, "cds": np.int64, "amount": np.float64})
    raw["date"] = pd.to_datetime(raw["date"], format="%Y%m%d").astype("datetime64[ns]")
    return raw
