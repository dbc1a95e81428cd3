"""Every analysis of db.sales, db.service, db.marketing, db.care and the
scoring methods on a store with nothing to analyse: an empty store, and one
with customers but none of the analysed records. Each returns an empty
result with the columns (and index name) it has on a store with data, and
their dtypes (an empty frame of object columns where a full one has
datetime64, Int64 or str ones breaks code that reads them), or the clear
error it documents; never a bare pandas or NumPy error from an
empty column (attribution raised "Cannot cast DatetimeArray to dtype
float64", portrait a ufunc error on an empty store).

The methods are listed from the classes, so a new analysis fails
test_every_method_is_classified until it is added here."""
import inspect

import pandas as pd
import pytest

import crmcore as crm
from crmcore._convert import TEXT_DTYPE
from crmcore.scoring.store import ScoringMethods

NAMESPACES = ("sales", "service", "marketing", "care")

# Writers and lookups of one given record: not analyses of the store's records.
NOT_ANALYSES = {
    "sales": {"move", "apply_credit", "complete"},
    "service": {"move", "assign", "escalate", "set_sla", "caller", "timeline", "timeline_view"},
    "marketing": {"save_segment", "segment", "refresh_segment", "campaign_effect"},
    "care": set(),
    "scoring": {"customer_card", "default_as_of", "names"},
}
# The arguments an analysis cannot go without.
REQUIRED = {
    "care.greetings": {"start": "2024-01-01", "end": "2024-12-31"},
    "scoring.lifecycle_flow": {"start": "2024-01-01", "end": "2024-06-30"},
    "scoring.dimension": {"by": ["region", "channel"]},
}
# The documented refusal when there is nothing to analyse.
REFUSES = {"sales.bookings_forecast": (crm.ValidationError, "at least 24 finite values")}
AS_OF = "2024-07-01"  # the stores below have no data to take a default as_of from


def _methods():
    found = {}
    for space in NAMESPACES + ("scoring",):
        cls = ScoringMethods if space == "scoring" else type(getattr(crm.open(), space))
        for name, f in inspect.getmembers(cls, inspect.isfunction):
            if not name.startswith("_") and name not in NOT_ANALYSES[space]:
                found[f"{space}.{name}"] = f
    return found


METHODS = _methods()


def _call(db, key):
    space, name = key.split(".")
    f = getattr(db if space == "scoring" else getattr(db, space), name)
    kwargs = dict(REQUIRED.get(key, {}))
    if "as_of" in inspect.signature(f).parameters:
        kwargs["as_of"] = AS_OF
    return f(**kwargs)


def _shape_of(result):
    if isinstance(result, pd.DataFrame):
        return list(result.columns), result.index.name
    if isinstance(result, pd.Series):
        return result.name, result.index.name
    return type(result).__name__


def _dtypes_of(result):
    """The dtype of each column (and of the index): an empty result's must be
    the same as a full one's, or code that reads a column (``.dt``, ``.str``,
    an integer comparison) works on one and fails on the other."""
    if isinstance(result, pd.DataFrame):
        return {str(c): str(t) for c, t in result.dtypes.items()}, str(result.index.dtype)
    if isinstance(result, pd.Series):
        return str(result.dtype), str(result.index.dtype)
    return None


def _add_stock(db):
    """Stock of two products (the synthetic data has none), so that the stock
    reads below have rows to compare with: one runs out, both are to reorder."""
    north = db.add("locations", name="North")
    first, second = (int(p) for p in db.frame("products", columns=[]).index[:2])
    for product in (first, second):
        db.update("products", product, reorder_point=5.0, reorder_quantity=20.0)
    db.stock.adjust(first, north, 3, reason="count", at="2024-01-01")
    db.stock.adjust(second, north, 2, reason="count", at="2024-01-01", unit_cost=4.0)
    db.stock.adjust(second, north, -2, reason="damage", at="2024-02-01")


@pytest.fixture(scope="module")
def stores():
    with_data = crm.open()
    crm.datasets.load(with_data, crm.datasets.synthetic(300, seed=0))
    _add_stock(with_data)
    customers_only = crm.open()
    customers_only.import_frame("customers", pd.DataFrame({"name": ["Ann", "Bo", "Cy"], "owner": "Li"}))
    return {"with data": with_data, "empty": crm.open(), "customers only": customers_only}


def test_every_method_is_classified():
    for key in METHODS:
        f = METHODS[key]
        needed = [p.name for p in inspect.signature(f).parameters.values()
                  if p.default is p.empty and p.name != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)]
        assert not needed or key in REQUIRED, f"{key} needs {needed}: add it to REQUIRED or NOT_ANALYSES"


@pytest.mark.parametrize("store", ["empty", "customers only"])
@pytest.mark.parametrize("key", sorted(METHODS))
def test_an_analysis_of_nothing_is_empty_with_its_columns(stores, key, store):
    db = stores[store]
    before = db.counts().to_dict()
    if key in REFUSES:
        error, text = REFUSES[key]
        with pytest.raises(error, match=text):
            _call(db, key)
        return
    got = _call(db, key)
    want = _call(stores["with data"], key)
    if key == "scoring.cohorts":  # its columns are the periods since the first order: none here
        assert got.empty and got.index.name == want.index.name
        return
    assert _shape_of(got) == _shape_of(want)
    assert _dtypes_of(got) == _dtypes_of(want)
    if isinstance(got, pd.DataFrame) and key not in ("sales.funnel", "sales.win_rate", "sales.cycle_length",
                                                     "scoring.lifecycle_flow"):
        # (those four have a row per stage, or a total, however few deals)
        assert got.empty or store == "customers only", got
    assert db.counts().to_dict() == before  # an analysis writes nothing


# -- frames, lookups and the audit log ------------------------------------------
# The same rule for what the store reads back: a column's dtype follows its
# declared type, whatever its values. The customers-only store's customers
# have every optional text field missing (phone, region, tier, ...) and the
# synthetic store leaves some whole columns empty (external_source): those
# came out object where text with values is str.
KINDS = {k["name"]: k["fields"] for k in crm._core.kinds()}
TEXT = str(TEXT_DTYPE)  # str (object on pandas 2, as pandas keeps text there)
_DTYPE_OF_TYPE = {"text": TEXT, "time": "datetime64[ns]", "real": "float64", "bool": "boolean"}


def _declared_dtypes(kind, names=None):
    """The dtype of each column of db.frame(kind) from the kind's declared fields."""
    want = {}
    for f in KINDS[kind]:
        if f["type"] in ("integer", "ref", "anyref"):
            want[f["name"]] = "int64" if f["required"] else "Int64"
        else:
            want[f["name"]] = _DTYPE_OF_TYPE[f["type"]]
    want.update({"tags": "object", "custom": "object", "created_at": "datetime64[ns]",
                 "updated_at": "datetime64[ns]"})  # tags hold lists, custom dicts
    return want if names is None else {n: want[n] for n in names}


@pytest.mark.parametrize("store", ["empty", "customers only", "with data"])
def test_frames_and_finds_have_the_dtypes_of_the_declared_fields(stores, store):
    db = stores[store]
    for kind in KINDS:
        every = db.frame(kind)
        assert _dtypes_of(every) == (_declared_dtypes(kind), "int64"), kind
        found = db.find(kind, filters=[("id", ">=", 0)], limit=5)
        assert _dtypes_of(found) == (_declared_dtypes(kind), "int64"), kind
        # the optional text fields alone, read by the query path
        texts = [f["name"] for f in KINDS[kind] if f["type"] == "text" and not f["required"]][:4]
        some = db.frame(kind, columns=texts, filters=[("id", ">=", 0)])
        assert _dtypes_of(some) == (_declared_dtypes(kind, texts), "int64"), kind


def test_text_read_back_all_missing_is_str_and_reads_as_missing():
    db = crm.open()
    ids = db.import_frame("customers", pd.DataFrame({"name": ["Ann", "Bo"]}))
    customers = db.frame("customers")
    assert str(customers["phone"].dtype) == TEXT and customers["phone"].isna().all()
    assert db.find("customers", name="Ann")["region"].isna().tolist() == [True]
    db.update("customers", ids[0], region="East")
    assert db.frame("customers")["region"].tolist()[0] == "East"


AUDIT_DTYPES = {"at": "datetime64[ns]", "actor": TEXT, "op": TEXT, "kind": TEXT, "rows": "int64",
                "first_id": "Int64", "last_id": "Int64", "cause_id": "Int64", "changes": "object"}


@pytest.mark.parametrize("store", ["empty", "customers only", "with data"])
def test_the_audit_log_has_the_same_dtypes_with_or_without_entries(stores, store):
    db = stores[store]
    for log in (db.audit_log(), db.audit_log(0), db.audit_log(about=[10**12])):
        assert _dtypes_of(log) == (AUDIT_DTYPES, "int64")


def test_a_timeline_has_the_same_dtypes_with_or_without_events(stores):
    """db.service.timeline, a lookup of one customer rather than an analysis:
    one with no events, and one whose events name no staff member (who all
    missing), as one with events of every kind."""
    full = stores["with data"]
    busiest = full.frame("interactions", columns=["customer_id"]).customer_id.value_counts().index[0]
    want = _dtypes_of(full.service.timeline(int(busiest)))
    db = crm.open()
    quiet = db.add("customers", name="Ann")
    assert _dtypes_of(db.service.timeline(quiet)) == want
    db.add("orders", customer_id=quiet, amount=5.0, ordered_at="2024-01-02")
    assert _dtypes_of(db.service.timeline(quiet)) == want


def test_greetings_of_a_contact_tied_to_no_customer_have_the_full_dtypes(stores):
    """Its customer_id is missing: the column was float64 then (int64
    otherwise), now Int64 whatever the rows."""
    want = _dtypes_of(_call(stores["with data"], "care.greetings"))
    db = crm.open()
    db.add("contacts", name="Zhao", birthday="1985-02-12")
    got = db.care.greetings("2024-01-01", "2024-12-31")
    assert got["customer_id"].isna().all() and _dtypes_of(got) == want


# Reads of the store's records that need no argument, beside the analyses:
# the same dtypes on a store with nothing to read as on a full one.
READS = ["names", "labels", "merges", "integrity_check", "audit_check", "connected_customers", "hierarchy_rollup",
         "referrals", "relationship_strength", "stock.balances", "stock.days_of_cover", "stock.on_hand",
         "stock.reorder_list", "stock.stockouts", "stock.valuation"]


def _read(db, key):
    space, _, name = key.rpartition(".")
    return getattr(getattr(db, space) if space else db, name)()


@pytest.mark.parametrize("store", ["empty", "customers only"])
@pytest.mark.parametrize("key", READS)
def test_a_read_of_nothing_has_the_dtypes_of_a_full_one(stores, key, store):
    got, want = _read(stores[store], key), _read(stores["with data"], key)
    assert _shape_of(got) == _shape_of(want)
    assert _dtypes_of(got) == _dtypes_of(want)


def test_merges_have_the_same_dtypes_with_or_without_one():
    db = crm.open()
    a, b = db.add("customers", name="Acme"), db.add("customers", name="ACME")
    none = _dtypes_of(db.merges())
    db.merge("customers", a, [b])
    assert none == _dtypes_of(db.merges()) == ({"at": "datetime64[ns]", "kind": TEXT, "keep_id": "int64",
                                                "merged_ids": "object", "undone_at": "datetime64[ns]"}, "int64")


def test_audit_check_has_the_same_dtypes_with_or_without_problems(tmp_path):
    import sqlite3
    path = tmp_path / "s.crm"
    with crm.open(path) as db:
        a = db.add("customers", name="A")
        db.update("customers", a, name="B")
        none = _dtypes_of(db.audit_check())
    with sqlite3.connect(path) as raw:
        raw.execute("UPDATE customers SET name = 'C'")  # another program's change
    raw.close()
    with crm.open(path) as db:
        problems = db.audit_check()
    assert len(problems) == 1 and none == _dtypes_of(problems) == ({"reason": TEXT}, "int64")


def test_product_profit_of_lines_naming_no_product(stores):
    """Purchases whose lines name no product (a service charge, a line typed
    by hand): product_profit raised "order_lines row 0: the id is missing".
    Such lines are no product's: left out, and counted in the attrs."""
    db = crm.open()
    ann = db.add("customers", name="Ann")
    order = db.add("orders", customer_id=ann, ordered_at="2024-01-02", amount=15.0)
    db.add("order_lines", order_id=order, quantity=1, unit_price=5.0, unit_cost=1.0)
    got, want = db.product_profit(as_of=AS_OF), stores["with data"].product_profit(as_of=AS_OF)
    assert got.empty and _shape_of(got) == _shape_of(want) and _dtypes_of(got) == _dtypes_of(want)
    assert got.attrs["lines_without_product"] == 1
    assert db.product_profit(as_of=AS_OF, by="region").empty
    # Beside a line naming one: that product alone, from its line alone.
    tea = db.add("products", sku="T1", name="Tea", unit_cost=2.0)
    db.add("order_lines", order_id=order, product_id=tea, quantity=2, unit_price=5.0)
    got = db.product_profit(as_of=AS_OF)
    assert got.index.tolist() == [tea] and got.attrs["lines_without_product"] == 1
    assert got.loc[tea, ["lines", "revenue", "cost", "profit"]].tolist() == [1, 10.0, 4.0, 6.0]
