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
            if kind == "deal_stages":
                ids[kind] = _replay_stages(db, pd.DataFrame(columns, copy=False), progress)
                continue
            if kind == "deals" and "deal_stages" in data and "stage" in columns:
                columns = _first_stages(columns, data["deal_stages"])
            ids[kind] = np.asarray(db.import_frame(kind, pd.DataFrame(columns, copy=False), progress=progress))
    return ids


def _first_stages(columns, history):
    """A deal with a stage history is added at its first stage, when it
    entered it; the later moves are replayed by `_replay_stages`, so that the
    store's stage rules write the history and close the deals themselves."""
    first = history.sort_values(["deal_id", "changed_at"], kind="stable").drop_duplicates("deal_id")
    positions = first.deal_id.to_numpy()
    stage = pd.Series(columns["stage"]).to_numpy(dtype=object).copy()
    stage[positions] = first.stage.to_numpy(dtype=object)
    at = pd.Series(pd.NaT, index=range(len(stage)), dtype="datetime64[ns]")
    at.iloc[positions] = pd.to_datetime(first.changed_at).to_numpy()
    out = {k: v for k, v in columns.items() if k not in ("probability", "closed_at")}
    out["stage"] = stage
    out["stage_changed_at"] = at
    return out


def _replay_stages(db, history, progress):
    """Moves each deal through its later stages, one round per step, as bulk
    updates; the stage rules write the deal_stages rows. Returns their ids."""
    history = history.reset_index(drop=True).sort_values(["deal_id", "changed_at"], kind="stable")
    step = history.groupby("deal_id").cumcount().to_numpy()
    for k in range(1, int(step.max()) + 1 if len(step) else 0):
        moves = history[step == k]
        db.import_frame("deals", pd.DataFrame({"id": moves.deal_id.to_numpy(), "stage": moves.stage.to_numpy(),
                                               "stage_changed_at": moves.changed_at.to_numpy()}),
                        mode="update", key="id", progress=progress)
    # The rows the rules wrote, matched to the given ones: per deal, in time order.
    stored = db.frame("deal_stages", columns=["deal_id", "changed_at"]).reset_index()
    stored = stored[stored.deal_id.isin(history.deal_id.unique())]
    stored = stored.sort_values(["deal_id", "changed_at", "id"], kind="stable")
    if len(stored) != len(history):
        raise ValueError(f"load: {len(history)} stage changes given, {len(stored)} written")
    out = np.empty(len(history), dtype=np.int64)
    out[history.index.to_numpy()] = stored.id.to_numpy()
    return out


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
