"""Loading a generated (or hand-made) set of frames into a store."""
import numpy as np
import pandas as pd

from ._synthetic import KINDS, REFERENCES

_LINK_ENDS = {"src": "src_kind", "dst": "dst_kind"}


def load(db, data, progress=False):
    """Import every kind of `data` into `db`, parents before children.

    `data` maps kind names to DataFrames whose foreign keys are row positions
    into the referenced kind's frame (-1 for none), as `synthetic` makes them;
    links name the kinds their src/dst positions point into in src_kind and
    dst_kind (without those columns, src/dst are taken as store ids
    already). Positions become store ids here. The whole load is one
    transaction: it lands completely or not at all. Returns kind -> ids in row
    order.

    >>> import crmcore as crm
    >>> db = crm.open(":memory:")
    >>> ids = crm.datasets.load(db, crm.datasets.synthetic(500, seed=1))
    >>> db.count("customers") == len(ids["customers"])
    True
    """
    unknown = set(data) - set(KINDS)
    if unknown:
        raise ValueError(f"load: unknown kinds {sorted(unknown)}; known kinds are {KINDS}")
    ids = {}
    with db.transaction():
        for kind in KINDS:
            if kind not in data:
                continue
            frame = data[kind]
            columns = {}
            for col in frame.columns:
                if kind == "links" and col in _LINK_ENDS.values():
                    continue
                if kind == "links" and col in _LINK_ENDS:
                    columns[col] = _link_ids(frame, col, ids)
                elif col in REFERENCES.get(kind, {}):
                    columns[col] = _ids_at(frame[col].to_numpy(), _loaded(ids, REFERENCES[kind][col], kind, col))
                else:
                    columns[col] = frame[col]
            ids[kind] = np.asarray(db.import_frame(kind, pd.DataFrame(columns, copy=False), progress=progress))
    return ids


def _loaded(ids, target, kind, col):
    if target not in ids:
        raise ValueError(f"load: {kind}.{col} refers to {target}, which is not in the data")
    return ids[target]


def _ids_at(positions, target_ids):
    """Store ids at the given positions; -1 becomes a missing value."""
    positions = np.asarray(positions, dtype=np.int64)
    if len(positions) and (positions.max() >= len(target_ids) or positions.min() < -1):
        raise IndexError(f"load: positions must lie in [-1, {len(target_ids)}), "
                         f"got {positions.min()}..{positions.max()}")
    missing = positions < 0
    values = target_ids[np.where(missing, 0, positions)] if len(target_ids) else np.zeros(len(positions), np.int64)
    if missing.any():
        return pd.arrays.IntegerArray(values.astype(np.int64), missing)
    return values.astype(np.int64)


def _link_ids(frame, end, ids):
    """Link ends: positions into the kind named per row by src_kind / dst_kind."""
    kind_col = _LINK_ENDS[end]
    if kind_col not in frame:
        return frame[end]              # already store ids
    out = np.empty(len(frame), dtype=np.int64)
    positions = frame[end].to_numpy()
    for kind, rows in frame.groupby(kind_col, sort=False).indices.items():
        out[rows] = np.asarray(_ids_at(positions[rows], _loaded(ids, kind, "links", end)))
    return out
