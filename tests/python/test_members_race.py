"""Two programs writing a membership ledger at once (two cron jobs, two
notebooks on one file): earn, redeem and expire read the ledger, decide and
write, and each must do it under the store's write lock, or both find the
same order uncredited (and credit it twice), both find enough points (and
overdraw), or both expire the same lot."""
import threading
import time

import pytest

import crmcore as crm
from crmcore.members import MemberMethods


@pytest.fixture()
def club_store(tmp_path):
    path = tmp_path / "club.crm"
    db = crm.open(path)
    c = db.add("customers", name="Acme")
    db.add("orders", customer_id=c, ordered_at="2025-01-05", amount=100.0)
    club = db.members.add_program("club", expiry_days=30)
    member = int(db.members.join(club, [c], at="2025-01-01")[0])
    return path, club, member


def _at_once(path, monkeypatch, action):
    """Runs ``action(handle)`` on two handles of the store at once: the first
    pauses after reading the ledger, the second runs meanwhile."""
    slow, fast = crm.open(path), crm.open(path)
    read = MemberMethods.ledger

    def paused(self, program):
        out = read(self, program)
        if self._db is slow:
            time.sleep(0.5)
        return out

    monkeypatch.setattr(MemberMethods, "ledger", paused)
    errors = []

    def run(handle):
        try:
            action(handle)
        except crm.ValidationError as e:  # the one that finds nothing left to do may be refused
            errors.append(e)

    first = threading.Thread(target=run, args=(slow,))
    first.start()
    time.sleep(0.1)
    second = threading.Thread(target=run, args=(fast,))
    second.start()
    first.join()
    second.join()
    monkeypatch.undo()
    return crm.open(path), errors


def test_two_earns_at_once_credit_each_order_once(club_store, monkeypatch):
    path, club, _ = club_store
    db, _ = _at_once(path, monkeypatch, lambda h: h.members.earn(club))
    assert db.members.ledger(club)["points"].tolist() == [100.0]


def test_two_redemptions_at_once_do_not_overdraw(club_store, monkeypatch):
    path, club, member = club_store
    crm.open(path).members.earn(club)
    db, errors = _at_once(path, monkeypatch, lambda h: h.members.redeem(member, 80, at="2025-01-10"))
    assert len(errors) == 1 and "fewer than the 80 asked" in str(errors[0])
    assert db.members.balances(club, "2025-01-10").tolist() == [20.0]


def test_two_expiries_at_once_expire_a_lot_once(club_store, monkeypatch):
    path, club, _ = club_store
    crm.open(path).members.earn(club)
    db, _ = _at_once(path, monkeypatch, lambda h: h.members.expire(club, "2025-03-01"))
    assert db.members.balances(club, "2025-03-01").tolist() == [0.0]
    assert (db.members.ledger(club)["reason"] == "expire").sum() == 1
