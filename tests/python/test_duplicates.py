"""Duplicate search: the blocked search against scoring every pair, clusters
against NetworkX, name folding against Python's unicodedata, pinyin against
pypinyin's own converter, one case per normalization rule, and precision and
recall on a labelled synthetic set."""
import unicodedata

import networkx as nx
import numpy as np
import pandas as pd
import pypinyin
import pytest

import crmcore as crm
from crmcore import _core
from crmcore.duplicates import _pinyin_table, _texts, clusters

pytestmark = pytest.mark.usefixtures("backend", "store_handle")

FLOOR = _core.duplicate_score_floor()


@pytest.fixture(scope="module")
def labelled():
    data, truth = crm.datasets.with_duplicates(crm.datasets.synthetic(4000, seed=5), rate=0.05, seed=6)
    return data["customers"], truth


def pair_set(pairs):
    return set(zip(pairs["id_a"].tolist(), pairs["id_b"].tolist()))


def test_the_docstring_example():
    people = pd.DataFrame({"name": ["王芳", "Wang Fang", "李雷"],
                           "phone": ["138 0013 8000", "+86 138-0013-8000", "139 0000 0000"]}, index=[11, 12, 13])
    pairs = crm.find_duplicates(people)
    assert pairs.columns.tolist() == ["id_a", "id_b", "name_a", "name_b", "score", "reasons", "cluster"]
    assert pairs[["id_a", "id_b", "name_a", "name_b", "reasons", "cluster"]].values.tolist() == [
        [11, 12, "王芳", "Wang Fang", "same phone, same pinyin", 11]]
    assert 0.9 < pairs["score"].iloc[0] <= 1


# One duplicate per rule: the same party typed two ways, found at the default threshold.
RULES = {
    "phone formats": (("Li Lei", "+86 138 0013 8000", None), ("Li Lei", "138-0013-8000", None), "same phone"),
    "full-width digits": (("Li Lei", "13800138000", None), ("Li Lei", "１３８ ００１３ ８０００", None), "same phone"),
    "international number": (("Acme Corp", "+1 415 555 0123", None), ("ACME", "(415) 555-0123", None), "same phone"),
    "a second phone": (("Li Lei", "13800138000", None), ("Li Lei", "010-6552 1234; 138 0013 8000", None),
                       "same phone"),
    "e-mail case": (("Li Lei", None, "Lei.Li@163.com"), ("LI LEI", None, " lei.li@163.COM "), "same e-mail"),
    "full-width name": (("Summit Trading LLC", "2125550100", None), ("ＳＵＭＭＩＴ　ＴＲＡＤＩＮＧ", "212-555-0100", None),
                        "same name"),
    "legal form": (("华创科技有限公司", "13800138000", None), ("华创科技股份有限公司", "13800138000", None),
                   "same name"),
    "Latin legal form": (("Bluewater Logistics Co., Ltd.", None, "info@bluewater.com"),
                         ("Bluewater Logistics Inc", None, "info@bluewater.com"), "same name"),
    "city prefix": (("上海华创科技有限公司", "021-6552 1234", None), ("华创科技", "021 6552 1234", None), "same name"),
    "bracketed city": (("上海市华创科技有限公司", None, "a@huachuang.cn"), ("华创科技（上海）有限公司", None, "a@huachuang.cn"),
                       "same name"),
    "typo": (("Northwind Traders", "+44 20 7946 0958", None), ("Nortwhind Traders", "020 7946 0958", None),
             "similar name"),
    "mistyped legal form": (("Harbor Media Group", None, "info@harbor.com"), ("Harbor Media rGoup", None, "info@harbor.com"),
                            "similar name"),
    "pinyin": (("王芳", "13800138000", None), ("Fang Wang", "+86 138 0013 8000", None), "same pinyin"),
    "name order": (("Wang Fang", "13800138000", None), ("FANG, Wang", "13800138000", None), "same name"),
}


@pytest.mark.parametrize("rule", RULES)
def test_each_rule_finds_its_duplicate(rule):
    a, b, reason = RULES[rule]
    df = pd.DataFrame([a, b], columns=["name", "phone", "email"])
    pairs = crm.find_duplicates(df)
    assert pair_set(pairs) == {(0, 1)}, pairs
    assert reason in pairs["reasons"].iloc[0]


def test_different_cities_make_different_companies():
    df = pd.DataFrame({"name": ["北京华创科技有限公司", "上海华创科技有限公司"], "phone": ["010-65521234", "021-65521234"]})
    assert crm.find_duplicates(df).empty
    # Even a shared phone and e-mail leave them apart only just; the name adds nothing.
    shared = crm.find_duplicates(df.assign(phone="13800138000", email="info@huachuang.cn"), threshold=FLOOR + 1e-9)
    assert shared["reasons"].tolist() == ["same phone, same e-mail, different city"]
    assert shared["score"].iloc[0] < crm.find_duplicates(
        pd.DataFrame({"name": ["Acme", "Acme"], "phone": "13800138000", "email": "info@huachuang.cn"}))["score"].iloc[0]


@pytest.mark.parametrize("threshold", [FLOOR + 1e-6, 0.5])
def test_blocked_search_finds_every_pair_that_scoring_all_pairs_finds(labelled, threshold):
    customers, _ = labelled
    columns = [_texts(customers[c]) for c in ("name", "phone", "email")]
    blocked = _core.find_duplicates(*columns, _pinyin_table(), threshold, 2, False)
    everything = _core.find_duplicates(*columns, _pinyin_table(), threshold, 2, True)
    assert len(everything["a"]) > 100
    for column in ("a", "b", "reasons", "cluster"):
        np.testing.assert_array_equal(blocked[column], everything[column])
    np.testing.assert_allclose(blocked["score"], everything["score"], rtol=0, atol=0)


def test_clusters_are_the_connected_components(labelled):
    customers, _ = labelled
    pairs = crm.find_duplicates(customers.set_index(customers.index * 3 + 100), threshold=0.2)
    graph = nx.Graph(list(zip(pairs["id_a"], pairs["id_b"])))
    want = {frozenset(c) for c in nx.connected_components(graph)}
    members = clusters(pairs)
    got = {frozenset(g) for _, g in members.groupby("cluster")["id"]}
    assert got == want
    assert (members.groupby("cluster")["id"].min() == members.groupby("cluster")["id"].min().index).all()
    assert any(len(c) > 2 for c in want)


def test_quality_on_the_labelled_set(labelled):
    """Floors well under what the search reaches (precision 0.998, recall 0.99
    on 105,000 customers); benchmarks/README.md has the figures."""
    customers, truth = labelled
    found = pair_set(crm.find_duplicates(customers))
    true = set(zip(truth["a"].tolist(), truth["b"].tolist()))
    precision, recall = len(found & true) / len(found), len(found & true) / len(true)
    assert precision >= 0.97 and recall >= 0.97, (precision, recall)


def test_the_store_searches_its_own_records():
    db = crm.open()
    a = db.add("customers", name="上海华创科技有限公司", phone="021-6552 1234")
    b = db.add("customers", name="华创科技（上海）有限公司", phone="+86 21 6552 1234")
    db.add("customers", name="Zenith Foods", phone="+1 212 555 0100")
    c = db.add("contacts", name="王芳", email="fang.wang@163.com")
    d = db.add("contacts", name="Wang Fang", email="FANG.WANG@163.COM")
    pairs = db.duplicates("customers")
    assert pair_set(pairs) == {(a, b)}
    assert pairs["cluster"].tolist() == [a]
    assert pair_set(db.duplicates("contacts")) == {(c, d)}
    frame = db.frame("customers", columns=["name", "phone", "email"])
    pd.testing.assert_frame_equal(pairs, crm.find_duplicates(frame))
    with pytest.raises(crm.ValidationError, match="orders: .* no name"):
        db.duplicates("orders")
    with pytest.raises(crm.NotFound, match="no record kind"):
        db.duplicates("customer")


def test_columns_may_be_missing_or_named_otherwise():
    df = pd.DataFrame({"客户名称": ["Summit Foods Ltd", "SUMMIT FOODS", None], "tel": ["1", "2", "3"]},
                      index=["x", "y", "z"])
    pairs = crm.find_duplicates(df, name="客户名称", phone=None, email=None)
    assert pair_set(pairs) == {("x", "y")} and pairs["cluster"].tolist() == ["x"]
    assert crm.find_duplicates(df.iloc[:0], name="客户名称").empty
    with pytest.raises(crm.NotFound, match="no column 'name'"):
        crm.find_duplicates(df.rename(columns={"客户名称": "x"}))


def test_thresholds_below_the_floor_are_refused():
    df = pd.DataFrame({"name": ["a", "b"]})
    with pytest.raises(ValueError, match="threshold"):
        crm.find_duplicates(df, threshold=FLOOR)
    with pytest.raises(ValueError, match="max_typos"):
        crm.find_duplicates(df, max_typos=3)
    with pytest.raises(TypeError):
        crm.find_duplicates(df["name"])


def test_accents_fold_as_unicode_decomposes_them():
    """Every Latin-1 and Latin Extended-A letter that decomposes into an
    ASCII letter and marks folds to that letter."""
    checked = 0
    for code in range(0xC0, 0x180):
        ch = chr(code)
        base = unicodedata.normalize("NFKD", ch)[0]
        if base.isascii() and base.isalpha():
            assert _core.normalize_name(f"x{ch}y")[0] == f"x{base.lower()}y", ch
            checked += 1
    assert checked > 150


def test_full_width_forms_fold_as_nfkc_does():
    for code in range(0xFF01, 0xFF5F):
        ch = chr(code)
        ascii_form = unicodedata.normalize("NFKC", ch)
        if ascii_form.isalnum():
            assert _core.normalize_name(f"a{ch}b") == _core.normalize_name(f"a{ascii_form}b"), ch


def test_pinyin_spellings_agree_with_pypinyins_converter(labelled):
    """Chinese person names spelled by pypinyin's own (phrase-aware) converter,
    surname first and last, meet the Han name: the search reads the same
    readings through its character table."""
    customers, _ = labelled
    han = customers["name"][(customers["kind"] == "person")
                            & customers["name"].str.fullmatch(r"[\u4e00-\u9fff]{2,3}")].drop_duplicates().head(300)
    spelled = [" ".join(pypinyin.lazy_pinyin(n, style=pypinyin.Style.NORMAL, v_to_u=False)).title() for n in han]
    names = list(han) + spelled
    phones = [f"1380000{k:04d}" for k in range(len(han))] * 2
    pairs = crm.find_duplicates(pd.DataFrame({"name": names, "phone": phones}))
    pinyin = pairs[pairs["reasons"].str.contains("same pinyin")]
    met = set(zip(pinyin["id_a"], pinyin["id_b"]))
    share = np.mean([(k, k + len(han)) in met for k in range(len(han))])
    assert share >= 0.98, share


def test_with_duplicates_knows_its_truth():
    data = crm.datasets.synthetic(1000, seed=2)
    before = data["customers"].copy()
    noisy, truth = crm.datasets.with_duplicates(data, rate=0.1, seed=3)
    customers = noisy["customers"]
    pd.testing.assert_frame_equal(data["customers"], before)        # the input is left alone
    assert len(customers) == 1100 and len(noisy.truth) == 1100
    assert noisy["orders"] is data["orders"]                           # other kinds are shared
    assert (truth["a"] < truth["b"]).all() and truth["b"].max() < 1100
    assert set(range(1000, 1100)) <= set(truth["b"])                  # every duplicate has a source
    # Every duplicate keeps its source's phone number or e-mail, written some way.
    source = truth[truth["a"] < 1000]

    def keys(column, key):
        return customers[column].map(lambda v: {key(x) for x in str(v).split(";")} - {""} if v else set())
    phones, emails = keys("phone", _core.phone_key), keys("email", lambda e: e.strip().lower())
    kept = [bool(phones[a] & phones[b]) or bool(emails[a] & emails[b]) for a, b in zip(source["a"], source["b"])]
    assert np.mean(kept) == 1.0
    # An address names one party among the records given.
    first = customers["email"].iloc[:1000].dropna().str.lower().str.split(";").explode().str.strip()
    assert first.is_unique
    # Same seed, same duplicates.
    again, truth_again = crm.datasets.with_duplicates(data, rate=0.1, seed=3)
    pd.testing.assert_frame_equal(again["customers"], customers)
    pd.testing.assert_frame_equal(truth_again, truth)
    assert {"pinyin", "typo", "city dropped", "legal form changed"} <= set(
        truth["change"].str.extract(r"^name: ([^;]*)")[0])


def test_with_duplicates_takes_a_plain_frame():
    df = pd.DataFrame({"name": ["Li Lei", "王芳"], "phone": ["13800138000", None], "email": [None, "f@163.com"]})
    grown, truth = crm.datasets.with_duplicates(df, rate=1.0, seed=1)
    assert len(grown) == 4 and len(truth) >= 2
    assert set(crm.find_duplicates(grown).pipe(pair_set)) >= set(zip(truth["a"], truth["b"]))


def test_docstring_examples():
    import doctest

    import crmcore.datasets._duplicates
    import crmcore.duplicates

    for module in (crmcore.duplicates, crmcore.datasets._duplicates):
        result = doctest.testmod(module)
        assert result.attempted > 0 and result.failed == 0, module.__name__
