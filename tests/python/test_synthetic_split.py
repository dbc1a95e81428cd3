"""The synthetic CRM is the same data for a seed after its generator was
split into modules (_synthetic, _pipeline, _draws): every frame and the
hidden truth hash to the digests computed on main before the split
(fb3fa3f; numpy 2.4, pandas as pinned). A change of the generator's output
must change these digests on purpose, with the reason in its commit."""
import hashlib

import pandas as pd
import pytest

from crmcore.datasets import synthetic

BEFORE_THE_SPLIT = {
    (1500, 3): "336d3dd378e19c7f8595af99eecd914b05753cec7f0ebfb43060d09ea5aadde0",
    (400, 11): "e10d86084933a9b91907d084ea9f996a0ac928a9ebceebd0fec09aada0e72c48",
}


def digest(data) -> str:
    """SHA-256 over each frame's name, column names and dtypes, and the
    values row by row (pandas' hash of every cell, index included)."""
    h = hashlib.sha256()
    for kind in data:
        frame = data[kind]
        h.update(kind.encode())
        h.update(repr([(c, str(t)) for c, t in frame.dtypes.items()]).encode())
        h.update(pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes())
    h.update(pd.util.hash_pandas_object(data.truth, index=True).to_numpy().tobytes())
    return h.hexdigest()


# Schema 15 gave interactions a promised next contact (next_contact_at),
# drawn from a stream of its own: with that column the digests are these,
# and without it they are still the ones from before the split.
WITH_NEXT_CONTACTS = {
    (1500, 3): "0551e29d45642ff25f9ba6c29247f2b8e90489cd3047fc89418a7b31a410a20d",
    (400, 11): "02490dc16318005d77246b958a89c049cd121f0ba7ab426cfdc236d2ebc555e4",
}


# Campaign members gained holdouts (a tenth of the mass campaigns' members,
# sent nothing, so their responses are gone): the members' frame changed on
# purpose, every other frame is as before (its digest without the members,
# computed on main at c640496).
WITH_HOLDOUTS = {
    (1500, 3): "5909746c4ce5722251c8ce740e095e53a074a9455ea250dcacf08f12d3c6f281",
    (400, 11): "c3ae94df1ab0be3905a82da5127abbbadbe1f932b9d3bc236e54488396a49f5e",
}
WITHOUT_MEMBERS = {
    (1500, 3): "d467e8a5e7742131e655681016ae99e7b6e9b00fe50939e9dbea768465c8eb41",
    (400, 11): "4e9cd12d13ead014f1bd0073cbe9d38b47ddbd0ed68a3fb9c78ef52562661e72",
}


# Some prospects buy late (datasets/_converts.py, a stream of its own): their
# orders, lines and payments are appended, their customers' status and tier
# follow, and the truth gains converted_at. The digests changed on purpose;
# test_late_buyers_only_add_rows_and_what_follows_from_them checks against
# the generator without that step that nothing else moved.
WITH_LATE_BUYERS = {
    (1500, 3): "a6c5d2fb2374eed13e998fa4d3fcbd11d59f4487a69ad5376c39079e18395cce",
    (400, 11): "e17a4e6978a5fdc5facf40ee309a66b73d9117311366e8f460c494e79ed12269",
}
WITH_LATE_BUYERS_WITHOUT_MEMBERS = {
    (1500, 3): "e26cbab7c5e5ce5d3b529024806d474916180d75640bb3ca8e05ec8e8e785623",
    (400, 11): "731e5ea8b01dd5b99b9fe0893dfa366f7c790450ac0d762ae172dcda2473d7a5",
}


@pytest.mark.parametrize("n, seed", sorted(BEFORE_THE_SPLIT))
def test_the_generated_store_is_the_one_before_the_split(n, seed):
    data = synthetic(n, seed=seed)
    assert digest(data) == WITH_LATE_BUYERS[(n, seed)]
    del data["campaign_members"]
    assert digest(data) == WITH_LATE_BUYERS_WITHOUT_MEMBERS[(n, seed)]


@pytest.mark.parametrize("n, seed", sorted(BEFORE_THE_SPLIT))
def test_late_buyers_only_add_rows_and_what_follows_from_them(n, seed, monkeypatch):
    from crmcore.datasets import _synthetic

    data = synthetic(n, seed=seed)
    monkeypatch.setattr(_synthetic, "late_buyers", lambda gen: None)
    before = synthetic(n, seed=seed)
    assert digest(before) == WITH_HOLDOUTS[(n, seed)]  # the step left out: the store of before
    late = data.truth.converted_at.notna().to_numpy()
    assert late.any()
    for kind in before:
        old, new = before[kind], data[kind]
        if kind in ("orders", "order_lines", "payments"):
            added = len(new) - len(old)
            assert added == late.sum() and new.iloc[:len(old)].equals(old), kind
        elif kind == "customers":
            differs = ~((old == new) | (old.isna() & new.isna()))
            assert not differs["status"].to_numpy()[~late].any()  # only the late buyers' status
            # Tiers and the "vip" tag rank every buyer's orders or revenue: more buyers move a few.
            assert set(new.columns[differs.any().to_numpy()]) <= {"status", "tier", "tags"}
            assert differs.any(axis=1).mean() < 0.1
        else:
            assert new.equals(old), kind
    assert data.truth.drop(columns="converted_at").equals(before.truth)


def test_the_digest_sees_a_changed_cell():
    data = synthetic(400, seed=11)
    data["deals"].loc[0, "amount"] += 1.0
    assert digest(data) != WITH_HOLDOUTS[(400, 11)]
