"""Import mappings, the lenient reading of other systems' exports, and the dry run (issue 9, part 4).

References are hand-checked values (Excel's serial day numbers, calendar
dates) and plain pandas computations on the same text; the dry run is
checked against the store's counts, frames and audit log before and after.
"""
import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

import crmcore as crm
from crmcore.mapping import Mapping
from test_input_defects import refused  # a refusal as crm.ValidationError naming row, field and reason

pytestmark = pytest.mark.usefixtures("store_handle")


@pytest.fixture
def db():
    with crm.open(":memory:") as database:
        yield database


@pytest.fixture
def cid(db):
    return db.add("customers", name="甲公司")


def orders(cid, n, **columns):
    """An orders frame of text, as read from a CSV, with the given columns."""
    df = pd.DataFrame({"customer_id": [str(cid)] * n, "ordered_at": ["2025-01-01"] * n, "amount": ["1"] * n})
    for name, values in columns.items():
        df[name] = values
    return df


def snapshot(db):
    """What a dry run must leave as it was: every kind's records and the audit log."""
    return ({kind: db.frame(kind) for kind in ("customers", "orders", "products", "tasks")},
            db.audit_log(1000))


def plain(df):
    """Values as Python objects, missing ones None, for comparing frames by value."""
    return df.astype(object).where(df.notna(), None)


def assert_unchanged(db, before):
    frames, log = snapshot(db)
    for kind, frame in before[0].items():
        pd.testing.assert_frame_equal(frames[kind], frame)
    pd.testing.assert_frame_equal(log, before[1])


# -- 1. the forms exports use, read by the store without a mapping -------------------------

DATES = {  # text -> the day and time it names (hand-checked)
    "2025-01-05": "2025-01-05", "2025/1/5": "2025-01-05", "2025-1-5": "2025-01-05", "2025.1.5": "2025-01-05",
    "2025年1月5日": "2025-01-05", "2025年01月05日": "2025-01-05", "2025年1月5号": "2025-01-05",
    "20250105": "2025-01-05", "2025-12-25 9:40": "2025-12-25 09:40", "2025/12/25 09:40:30": "2025-12-25 09:40:30",
    "2025年12月25日 9:40": "2025-12-25 09:40", "2025年12月25日9:40": "2025-12-25 09:40",
    "2024/2/29": "2024-02-29", " 2025/1/5 ": "2025-01-05",
}


def test_dates_in_the_forms_exports_use(db, cid):
    df = orders(cid, len(DATES), ordered_at=list(DATES))
    ids = db.import_frame("orders", df)
    got = db.frame("orders").loc[ids, "ordered_at"]
    assert got.tolist() == [pd.Timestamp(v) for v in DATES.values()]
    # The same through one record and through a JSON file.
    oid = db.add("orders", customer_id=cid, ordered_at="2025年1月5日 9:40", amount="¥1,200")
    assert (db.get("orders", oid)["ordered_at"], db.get("orders", oid)["amount"]) == (
        pd.Timestamp("2025-01-05 09:40"), 1200.0)


@pytest.mark.parametrize("text", ["05/01/2025", "1/5/2025", "25/1/5", "2025/13/5", "2025/2/30", "2023年2月29日",
                                  "20251305", "20250105 09:40", "2025/1/5 9:4", "2025-1/5", "next week",
                                  "2025/1/5\x00junk"])
def test_ambiguous_or_impossible_dates_are_refused(db, cid, text):
    refused(lambda: db.import_frame("orders", orders(cid, 2, ordered_at=["2025/1/5", text])), row=1,
            field="ordered_at")
    assert db.count("orders") == 0


def test_plain_numbers_are_still_not_dates(db, cid):
    # Epoch numbers stay ambiguous (issue 8); the eight-digit form is read only as text.
    for when in (20250105, 1735689600, 45658):
        refused(lambda: db.add("orders", customer_id=cid, ordered_at=when, amount=1.0), field="ordered_at")
        df = pd.DataFrame({"customer_id": [cid], "ordered_at": [when], "amount": [1.0]})
        refused(lambda: db.import_frame("orders", df), row=0, field="ordered_at")


AMOUNTS = ["1,200.50", "1,234,567", "¥1,200", "￥1200", "RMB 1200", "rmb1200", "$1,200.5", "1200元", "1,200 USD",
           "1.2万", "3亿", "1.2万元", "-1,200", "-¥1,200", "¥-1,200", " ¥ 1,200.00 ", "12%", "12.5％", "0.07%",
           "1.1万", "1e3", "+5"]


def _amount_reference(text):
    """The number, by pandas on the text with the decorations taken off by hand."""
    t = text.strip().replace(" ", "")
    sign = -1 if "-" in t else 1
    for mark in ("¥", "￥", "RMB", "rmb", "$", "元", "USD", "-", "+", ","):
        t = t.replace(mark, "")
    scale = 1
    for unit, exponent in (("万", 4), ("亿", 8), ("%", -2), ("％", -2)):
        if t.endswith(unit):
            t, scale = t[: -len(unit)], exponent
            # Decimal scaling, as a person reads "1.1万": the digits with the point moved.
            return sign * float(pd.to_numeric(pd.Series([t + f"e{exponent}"])).iloc[0])
    return sign * float(pd.to_numeric(pd.Series([t])).iloc[0]) * scale


def test_amounts_in_the_forms_exports_use(db, cid):
    # An order's amount is never negative (the store refuses it): the
    # negative forms are read, and then refused naming the number read.
    negative = [a for a in AMOUNTS if "-" in a]
    positive = [a for a in AMOUNTS if a not in negative]
    ids = db.import_frame("orders", orders(cid, len(positive), amount=positive))
    got = db.frame("orders").loc[ids, "amount"].tolist()
    assert got == [_amount_reference(a) for a in positive]
    assert got[9] == 12000.0 and got[16] == 11000.0 and got[13] == 0.12  # hand-checked
    values, read = crm._core.parse_amounts(negative)
    assert read.all() and values.tolist() == [_amount_reference(a) for a in negative] == [-1200.0] * 3
    result = db.import_frame("orders", orders(cid, len(negative), amount=negative), on_error="skip")
    assert result.errors["reason"].str.startswith("-1200 is negative").all()
    assert crm._core.parse_amounts(["1.2万", "1,20,0", None, 5])[1].tolist() == [1, 0, 0, 0]


@pytest.mark.parametrize("text", ["1,20,0", "1,200,50", "1200,000", "0,123", "100 junk", "12abc", "0x1A", "1e999",
                                  "¥1,200元", "12 %", "1.200,50", "(1,200)", "¥12%", "100\x00junk", "1,200\x00"])
def test_junk_and_ambiguous_amounts_stay_refused(db, cid, text):
    e = refused(lambda: db.import_frame("orders", orders(cid, 2, amount=["1", text])), row=1, field="amount")
    assert db.count("orders") == 0
    result = db.import_frame("orders", orders(cid, 2, amount=["1", text]), on_error="skip")
    assert result.errors.index.tolist() == [1] and db.count("orders") == 1
    assert e.reason


def test_counts_read_like_amounts_but_record_ids_do_not(db, cid):
    tid = db.add("tickets", customer_id=cid, opened_at="2025/1/5", reopened="1,200")
    assert db.get("tickets", tid)["reopened"] == 1200
    refused(lambda: db.add("tickets", customer_id=cid, opened_at="2025/1/5", reopened="12%"), field="reopened")
    refused(lambda: db.add("orders", customer_id=f"1,00{cid}", ordered_at="2025/1/5", amount=1), field="customer_id")


@pytest.mark.parametrize("text, flag", [("是", True), ("否", False), ("对", True), ("错", False), ("真", True),
                                        ("假", False), ("Y", True), ("n", False), ("YES", True), ("no", False),
                                        ("true", True), ("0", False)])
def test_yes_and_no_in_chinese_and_english(db, cid, text, flag):
    tid = db.add("tasks", subject="回访", customer_id=cid, done=text)
    assert db.get("tasks", tid)["done"] is flag


def test_yes_no_words_that_are_not_refused(db, cid):
    for text in ("是的", "不", "on", "√"):
        refused(lambda: db.add("tasks", subject="x", done=text), field="done")


# -- 2. mappings -------------------------------------------------------------------------------

def chinese_customers():
    return pd.DataFrame({"客户名称": ["甲公司", "王芳", "乙公司"], "客户类型": ["企业", "个人", " 企业 "],
                         "手机": ["138 0013 8000", "+86 139 1234 5678", None]})


CUSTOMER_MAPPING = Mapping(columns={"客户名称": "name", "客户类型": "kind", "手机": "phone"},
                           values={"kind": {"企业": "organization", "个人": "person"}})


def test_columns_and_values_are_mapped_as_pandas_would(db):
    df = chinese_customers()
    ids = db.import_frame("customers", df, mapping=CUSTOMER_MAPPING)
    reference = df.rename(columns={"客户名称": "name", "客户类型": "kind", "手机": "phone"})
    reference["kind"] = reference["kind"].str.strip().replace({"企业": "organization", "个人": "person"})
    got = db.frame("customers").loc[ids, ["name", "kind", "phone"]]
    assert plain(got).to_dict("list") == plain(reference).to_dict("list")
    # The preview is the frame the store received.
    assert CUSTOMER_MAPPING.apply("customers", df)["kind"].tolist() == reference["kind"].tolist()


def test_value_maps_match_numbers_as_text(db):
    df = pd.DataFrame({"名称": ["a", "b", "c"], "类型": [1, 2, 1]})
    ids = db.import_frame("customers", df, mapping={"columns": {"名称": "name", "类型": "kind"},
                                                    "values": {"kind": {1: "organization", "2": "person"}}})
    assert db.frame("customers").loc[ids, "kind"].tolist() == ["organization", "person", "organization"]


def test_values_not_in_the_map_are_kept_for_the_store_to_check(db):
    df = chinese_customers().assign(客户类型=["企业", "个体户", "个人"])
    e = refused(lambda: db.import_frame("customers", df, mapping=CUSTOMER_MAPPING), row=1, field="kind")
    assert e.column == "客户类型" and "column '客户类型' (field 'kind')" in str(e) and "'个体户'" in str(e)
    assert db.count("customers") == 0


def test_a_mapping_file_round_trips_and_reads_as_json(db, tmp_path):
    m = Mapping(columns={"客户名称": "name", "内部编号": None}, values={"kind": {"企业": "organization", "1": "person"}},
                formats={"ordered_at": {"format": "excel"}, "amount": {"multiply": 10000}}, unknown="custom",
                kind="customers")
    path = tmp_path / "customers.mapping.json"
    m.save(path)
    assert Mapping.load(path) == m
    on_disk = json.loads(path.read_text(encoding="utf-8"))
    assert on_disk["crmcore_mapping"] == 1 and on_disk["columns"]["客户名称"] == "name"
    assert "客户名称" in path.read_text(encoding="utf-8")  # readable, not \\u escapes
    assert Mapping.from_dict(on_disk) == m


def test_a_mapping_may_be_a_mapping_a_dict_or_a_path(db, tmp_path):
    path = tmp_path / "m.json"
    CUSTOMER_MAPPING.save(path)
    results = []
    for given in (CUSTOMER_MAPPING, CUSTOMER_MAPPING.to_dict(), path, str(path)):
        with crm.open() as fresh:
            fresh.import_frame("customers", chinese_customers(), mapping=given)
            results.append(fresh.frame("customers")[["name", "kind", "phone"]])
    for other in results[1:]:
        pd.testing.assert_frame_equal(other, results[0])
    csv = tmp_path / "export.csv"
    chinese_customers().to_csv(csv, index=False, encoding="utf-8-sig")  # Excel's UTF-8, with a BOM
    db.import_csv("customers", csv, mapping=path)
    assert db.frame("customers")["kind"].tolist() == ["organization", "person", "organization"]


@pytest.mark.parametrize("bad, says", [
    ({"客户名称": "name"}, "renames go under 'columns'"),
    ({"crmcore_mapping": 2}, "version"),
    ({"unknown": "keep"}, "unknown must be one of"),
    ({"formats": {"ordered_at": {"format": "dd/mm/yyyy"}}}, "strftime"),
    ({"formats": {"amount": {"multiply": 0}}}, "multiply"),
    ({"formats": {"amount": {"multiply": True}}}, "multiply"),
    ({"formats": {"amount": {"scale": 10}}}, "takes 'format' or 'multiply'"),
    ({"values": {"kind": ["企业"]}}, "must be a dict"),
    ({"values": {"kind": {1.5: "person"}}}, "must be a dict"),
    ({"columns": {"a": 1}}, "field name or None"),
    ({"kind": "clients"}, "known kinds"),
])
def test_bad_mappings_are_refused_plainly(bad, says):
    with pytest.raises((crm.ValidationError, crm.NotFound), match=says):
        Mapping.from_dict(bad)


def test_a_mapping_that_does_not_fit_the_kind_is_refused(db, cid, tmp_path):
    df = orders(cid, 1)
    for m, says in ((Mapping(formats={"channel": {"format": "excel"}}), "not a date field"),
                    (Mapping(formats={"ordered_at": {"multiply": 100}}), "not a number field"),
                    (Mapping(values={"colour": {"a": "b"}}), "names no field"),
                    (Mapping(kind="customers"), "for customers, not orders"),
                    (Mapping(columns={"amount": "cost", "ordered_at": "cost"}), "both become the field 'cost'")):
        refused(lambda: db.import_frame("orders", df, mapping=m), contains=says)
    path = tmp_path / "broken.json"
    path.write_text("{not json", encoding="utf-8")
    refused(lambda: db.import_frame("orders", df, mapping=path), contains="is not JSON")
    assert db.count("orders") == 0


def test_headers_with_stray_spaces_and_dropped_columns(db):
    df = pd.DataFrame({" 客户名称 ": ["甲"], "内部编号": ["X1"]})
    db.import_frame("customers", df, mapping={"columns": {"客户名称": "name", "内部编号": None}})
    assert db.frame("customers")["name"].tolist() == ["甲"]


# -- unknown columns -------------------------------------------------------------------------

def test_unknown_columns_are_all_named(db):
    df = chinese_customers().assign(备注=["a", None, "c"], 来源渠道=["微信", "展会", None])
    e = refused(lambda: db.import_frame("customers", df, mapping=CUSTOMER_MAPPING))
    assert "'备注'" in str(e) and "'来源渠道'" in str(e) and e.column == ["备注", "来源渠道"]
    assert "unknown='custom'" in str(e)
    # Without a mapping the store names the first one, as before.
    refused(lambda: db.import_frame("customers", pd.DataFrame({"name": ["x"], "备注": ["a"]})), field="备注")
    assert db.count("customers") == 0


def test_unknown_columns_kept_as_custom_fields(db):
    df = chinese_customers().assign(备注=["a", None, "c"], 来源渠道=["微信", "展会", None], 积分=[1.5, np.nan, 3.0])
    m = Mapping(columns={**CUSTOMER_MAPPING.columns, "积分": "points"}, values=CUSTOMER_MAPPING.values,
                unknown="custom")
    ids = db.import_frame("customers", df, mapping=m)
    # Reference: each row's non-missing values under the file's column name (or the mapping's).
    extra = df[["备注", "来源渠道", "积分"]].rename(columns={"积分": "points"})
    expected = [{k: v for k, v in row.items() if pd.notna(v)} for row in extra.to_dict("records")]
    assert [db.get("customers", i)["custom"] for i in ids] == expected
    assert list(db.get("customers", ids[0])["custom"]) == ["备注", "来源渠道", "points"]  # the file's order


def test_value_maps_for_columns_kept_as_custom_fields(db):
    df = chinese_customers().assign(是否VIP=["是", "否", "Y"])
    m = dataclasses.replace(CUSTOMER_MAPPING, columns={**CUSTOMER_MAPPING.columns, "是否VIP": "vip"},
                            values={**CUSTOMER_MAPPING.values, "vip": {"是": True, "Y": True, "否": False}},
                            unknown="custom")
    ids = db.import_frame("customers", df, mapping=m)
    assert [db.get("customers", i)["custom"] for i in ids] == [{"vip": True}, {"vip": False}, {"vip": True}]
    # A value map for a column not in this week's file is no error; one for no column at all is.
    db.import_frame("customers", chinese_customers(), mapping=m)
    refused(lambda: db.import_frame("customers", df, mapping=dataclasses.replace(m, values={"vipp": {"是": 1}})),
            contains="names no field")


def test_unknown_columns_ignored(db):
    df = chinese_customers().assign(备注=["a", None, "c"])
    ids = db.import_frame("customers", df, mapping=dataclasses.replace(CUSTOMER_MAPPING, unknown="ignore"))
    assert len(ids) == 3 and all(db.get("customers", i)["custom"] == {} for i in ids)


def test_custom_column_and_unknown_columns_are_not_merged(db):
    df = pd.DataFrame({"name": ["x"], "custom": ['{"a": 1}'], "备注": ["b"]})
    refused(lambda: db.import_frame("customers", df, mapping={"unknown": "custom"}), contains="cannot merge")


# -- formats ---------------------------------------------------------------------------------

def test_excel_serial_dates_only_when_the_mapping_says_so(db, cid):
    # Serial day numbers as Excel shows them (hand-checked): 1 is 1900-01-01,
    # 59 1900-02-28, 61 1900-03-01 (60 is the 29 February 1900 Excel invents),
    # 45658 2025-01-01; the fraction is the time of day.
    serials = [1, 59, 61, 45658, 45658.40277777778, "45658.5", "2025/1/5", 45658.999999]
    expected = ["1900-01-01", "1900-02-28", "1900-03-01", "2025-01-01", "2025-01-01 09:40", "2025-01-01 12:00",
                "2025-01-05", "2025-01-01 23:59:59.914"]
    m = Mapping(formats={"ordered_at": {"format": "excel"}})
    ids = db.import_frame("orders", orders(cid, len(serials), ordered_at=pd.Series(serials, dtype=object)), mapping=m)
    got = db.frame("orders").loc[ids, "ordered_at"]
    assert got.tolist() == [pd.Timestamp(v) for v in expected]  # times to Excel's millisecond
    # A numeric column too, and the Mac's 1904 system (45658 - 1462 days).
    ids = db.import_frame("orders", orders(cid, 1, ordered_at=[44196.0]),
                          mapping={"formats": {"ordered_at": {"format": "excel1904"}}})
    assert db.get("orders", ids[0])["ordered_at"] == pd.Timestamp("2025-01-01")
    for bad in (60, 0, -3, 3_000_000):
        e = refused(lambda: db.import_frame("orders", orders(cid, 2, ordered_at=[45658, bad]), mapping=m), row=1,
                    field="ordered_at")
        assert "Excel serial date" in e.reason


def test_dates_in_a_named_format(db, cid):
    texts = ["05/01/2025", "25/12/2025", "1/2/2025", "2025-01-05"]
    m = Mapping(columns={"日期": "ordered_at"}, formats={"日期": {"format": "%d/%m/%Y"}})
    df = orders(cid, 4).drop(columns="ordered_at").assign(日期=texts)
    result = db.import_frame("orders", df, mapping=m, on_error="skip")
    reference = pd.to_datetime(pd.Series(texts[:3]), format="%d/%m/%Y")
    assert db.frame("orders")["ordered_at"].tolist() == reference.tolist()
    assert result.errors.index.tolist() == [3]
    assert result.errors.loc[3, "column"] == "日期" and "does not match the date format" in result.errors.loc[3, "reason"]


def test_amounts_in_units_of_ten_thousand(db, cid):
    texts = ["1.2", "1,200", "¥3", "0.5万", "12%", "junk", None]
    m = Mapping(columns={"金额（万元）": "amount"}, formats={"amount": {"multiply": 10000}})
    df = orders(cid, len(texts)).drop(columns="amount").assign(**{"金额（万元）": texts})
    result = db.import_frame("orders", df, mapping=m, on_error="skip")
    # pandas on the text with the decorations taken off by hand, times 10,000.
    numbers = pd.to_numeric(pd.Series(["1.2", "1200", "3", "5000", "0.12"])) * 10000
    assert db.frame("orders")["amount"].tolist() == numbers.tolist()
    assert result.errors.index.tolist() == [5, 6]
    assert result.errors["column"].tolist() == ["金额（万元）"] * 2
    assert result.errors.loc[6, "reason"] == "is required but missing"
    numeric = orders(cid, 2).assign(amount=[1.5, 2.0])
    ids = db.import_frame("orders", numeric, mapping={"formats": {"amount": {"multiply": 100}}})
    assert db.frame("orders").loc[ids, "amount"].tolist() == (numeric["amount"] * 100).tolist()


# -- skip mode ---------------------------------------------------------------------------------

def test_skip_rejects_only_the_rows_of_a_bad_value(db, cid):
    df = pd.DataFrame({"客户": [str(cid)] * 5, "时间": ["2025/1/5", "明天", "2025年1月6日", "2025-1-7", "20250108"],
                       "金额": ["¥1,200", "1.2万", "1,20,0", "RMB 5", "12"]})
    m = Mapping(columns={"客户": "customer_id", "时间": "ordered_at", "金额": "amount"})
    result = db.import_frame("orders", df, mapping=m, on_error="skip")
    assert result.errors.index.tolist() == [1, 2]
    assert result.errors[["column", "field"]].values.tolist() == [["时间", "ordered_at"], ["金额", "amount"]]
    assert result.errors.loc[2, "金额"] == "1,20,0"  # the row as the file had it
    assert (result.ids[[1, 2]] == -1).all() and result.imported == 3
    got = db.frame("orders").loc[result.ids[[0, 3, 4]]]
    assert got["amount"].tolist() == [1200.0, 5.0, 12.0]
    assert got["ordered_at"].tolist() == [pd.Timestamp("2025-01-05"), pd.Timestamp("2025-01-07"),
                                          pd.Timestamp("2025-01-08")]


# -- 3. the dry run ------------------------------------------------------------------------------

def messy_orders(cid):
    return pd.DataFrame({"客户": [str(cid), str(cid), "999999", str(cid), str(cid)],
                         "时间": [45658, "明天", "2025/1/5", 60, "2025-1-7 9:40"],
                         "金额": ["¥1,200", "1,20,0", "3", "1.2万", "待定"],
                         "备注": ["a", None, None, None, None]})


MESSY_MAPPING = Mapping(columns={"客户": "customer_id", "时间": "ordered_at", "金额": "amount"},
                        formats={"ordered_at": {"format": "excel"}})


def test_check_frame_reports_every_problem_and_writes_nothing(tmp_path):
    path = tmp_path / "store.crm"
    with crm.open(path) as db:
        cid = db.add("customers", name="甲")
        db.import_frame("orders", orders(cid, 2))
        before = snapshot(db)
        report = db.check_frame("orders", messy_orders(cid), mapping=MESSY_MAPPING)
        assert_unchanged(db, before)
        assert report.columns.tolist() == ["row", "column", "field", "value", "reason"]
        assert report.iloc[0].isna()[["row", "field", "value"]].all() and report.iloc[0]["column"] == "备注"
        rows = report.dropna(subset=["row"])
        # Row 1 holds two problems; the mapping could convert neither, and the
        # store names the first bad field. Row 3's serial 60 is the mapping's.
        assert rows[["row", "column", "field"]].values.tolist() == [
            [1, "时间", "ordered_at"], [1, "金额", "amount"], [2, "客户", "customer_id"], [3, "时间", "ordered_at"],
            [4, "金额", "amount"]]
        assert rows["value"].tolist() == ["明天", "1,20,0", "999999", 60, "待定"]
        assert "no customers record with id 999999" in rows.iloc[2]["reason"]
    with crm.open(path) as db:  # nothing reached the file either
        log = db.audit_log()
        assert db.count("orders") == 2 and (log["kind"] != "staff").sum() == 2  # (a scoped handle's admin is a write)


def test_dry_run_on_every_import_path_writes_nothing(db, cid, tmp_path):
    df = messy_orders(cid).drop(columns="备注")
    before = snapshot(db)
    by_frame = db.import_frame("orders", df, mapping=MESSY_MAPPING, dry_run=True)
    csv = tmp_path / "orders.csv"
    df.to_csv(csv, index=False)
    by_csv = db.import_csv("orders", csv, mapping=MESSY_MAPPING, dry_run=True)
    # The rows the dry run names are exactly those an import with on_error="skip" rejects.
    json_path = tmp_path / "orders.json"
    json_path.write_text(json.dumps([{"customer_id": cid, "ordered_at": "2025/1/5", "amount": "¥5"},
                                     {"customer_id": cid, "ordered_at": "2025/1/5", "amount": "1,20,0"}],
                                    ensure_ascii=False), encoding="utf-8")
    by_json = db.import_json("orders", json_path, dry_run=True)
    assert_unchanged(db, before)
    assert by_frame.drop(columns="value").equals(by_csv.drop(columns="value"))
    assert by_json[["row", "field"]].values.tolist() == [[1, "amount"]]
    skipped = db.import_frame("orders", df, mapping=MESSY_MAPPING, on_error="skip")
    assert sorted(set(by_frame["row"].dropna().astype(int))) == skipped.errors.index.tolist()


def test_dry_run_finds_what_only_writing_finds_and_leaves_the_ids(db):
    df = pd.DataFrame({"编码": ["A", "B", "A"], "名称": ["a", "b", "c"]})
    m = Mapping(columns={"编码": "sku", "名称": "name"})
    report = db.check_frame("products", df, mapping=m)
    assert report[["row", "column", "field"]].values.tolist() == [[2, "编码", "sku"]]
    assert "already exists" in report.loc[0, "reason"]
    assert db.check_frame("products", df.iloc[:2], mapping=m).empty
    # The real import gives the ids a store that never saw the dry run gives.
    with crm.open() as fresh:
        assert db.import_frame("products", df.iloc[:2], mapping=m).tolist() == \
            fresh.import_frame("products", df.iloc[:2], mapping=m).tolist()


def test_dry_run_reports_a_rows_later_problems_too(db):
    # Row 2 has a bad price and a duplicate sku: the first run stops at the
    # price; with the price set aside the second finds the sku.
    db.add("customers", name="someone")
    before = snapshot(db)
    df = pd.DataFrame({"sku": ["A", "B", "A"], "name": ["a", "b", "c"], "list_price": ["9.5", "junk", "¥1,2"]})
    report = db.check_frame("products", df)
    assert report[["row", "field"]].values.tolist() == [[1, "list_price"], [2, "list_price"], [2, "sku"]]
    assert_unchanged(db, before)


def test_dry_run_inside_a_transaction_undoes_only_itself(db, cid):
    with db.transaction():
        db.add("customers", name="kept")
        assert len(db.check_frame("orders", messy_orders(cid), mapping=MESSY_MAPPING)) > 0
        db.import_frame("orders", orders(cid, 1))
    assert db.count("customers") == 2 and db.count("orders") == 1


def test_a_mapped_upsert_and_its_dry_run(db):
    # Next week's export names customers by the old CRM's code: the mapping
    # makes it the external key, and the upsert updates instead of adding.
    week1 = pd.DataFrame({"客户编号": ["KH1", "KH2"], "客户名称": ["甲", "乙"], "客户类型": ["企业", "个人"]})
    m = Mapping(columns={"客户编号": "external_id", "客户名称": "name", "客户类型": "kind"},
                values={"kind": {"企业": "organization", "个人": "person"}})
    first = db.import_frame("customers", week1, mode="upsert", mapping=m)
    week2 = pd.DataFrame({"客户编号": ["KH2", "KH3", "KH3", "KH4"], "客户名称": ["乙公司", "丙", "丙", "丁"],
                          "客户类型": ["企业", "个体", "个人", "个人"]})
    before = snapshot(db)
    report = db.check_frame("customers", week2, mode="upsert", mapping=m)
    assert_unchanged(db, before)
    # Row 1's kind is no kind; row 2 names the same record as row 1, which
    # a write alone finds. The import itself refuses the same rows.
    assert report[["row", "column", "field"]].values.tolist() == [[1, "客户类型", "kind"], [2, "客户编号", "external_id"]]
    result = db.import_frame("customers", week2, mode="upsert", mapping=m, on_error="skip")
    assert result.errors.index.tolist() == [1, 2] and result.errors["column"].tolist() == ["客户类型", "客户编号"]
    assert result.updated.tolist() == [True, False, False, False] and result.ids[0] == first.ids[1]
    got = db.frame("customers").set_index("external_id")
    assert got.loc["KH2", ["name", "kind"]].tolist() == ["乙公司", "organization"]
    assert sorted(got.index) == ["KH1", "KH2", "KH4"]


def test_check_frame_without_a_mapping_lists_unknown_columns(db, cid):
    report = db.check_frame("orders", orders(cid, 2, amount=["1", "x"], 颜色=["红", "蓝"]))
    assert plain(report[["row", "column", "field"]]).values.tolist() == [[None, "颜色", None], [1, "amount", "amount"]]


# -- 4. a whole messy export against its truth ----------------------------------------------------

def test_a_messy_export_lands_as_its_truth(db, tmp_path):
    export = crm.datasets.messy_export(120, seed=4)
    customers = Mapping(columns={"客户编号": "crm_code", "客户名称": "name", "客户类型": "kind", "联系电话": "phone",
                                 "电子邮箱": "email", "所在地区": "region", "所属行业": "industry",
                                 "客户状态": "status", "负责人": "owner", "是否VIP": "vip"},
                        values={"kind": {"企业": "organization", "个人": "person"},
                                "status": {"活跃": "active", "沉睡": "inactive", "流失": "lost", "潜在": "prospect"}},
                        unknown="custom")
    csv = tmp_path / "customers.csv"
    export["customers"].to_csv(csv, index=False, encoding="utf-8-sig")
    cids = db.import_csv("customers", csv, mapping=customers)
    truth = export.truth["customers"]
    got = db.frame("customers").loc[cids]
    for field in ("name", "kind", "phone", "email", "region", "industry", "status", "owner"):
        assert plain(got[field]).tolist() == plain(truth[field]).tolist(), field
    custom = [json.loads(c) for c in got["custom"]]
    assert [c["crm_code"] for c in custom] == export["customers"]["客户编号"].tolist()

    code_to_id = dict(zip(export["customers"]["客户编号"], cids))
    order_export = export["orders"].assign(客户ID=export["orders"]["客户编号"].map(code_to_id).astype(str))
    m = Mapping(columns={"客户ID": "customer_id", "下单时间": "ordered_at", "订单金额": "amount", "成本": "cost",
                         "渠道": "channel", "订单状态": "status", "城市": "location", "客户编号": None},
                values={"channel": {"网店": "online_store", "销售代表": "sales_rep", "APP": "app", "电话": "phone",
                                    "微信小程序": "wechat_mini", "门店": "retail_store", "经销商": "distributor"},
                        "status": {"已完成": "completed", "已取消": "cancelled", "已退货": "returned",
                                   "待处理": "pending"}},
                formats={"ordered_at": {"format": "excel"}}, unknown="ignore")
    truth = export.truth["orders"]
    report = db.check_frame("orders", order_export, mapping=m)
    bad = truth["bad"].notna()
    assert report["row"].tolist() == np.flatnonzero(bad).tolist()
    assert report["field"].tolist() == truth.loc[bad, "bad"].tolist()
    result = db.import_frame("orders", order_export, mapping=m, on_error="skip")
    assert result.errors.index.tolist() == np.flatnonzero(bad).tolist()
    good = truth[~bad]
    got = db.frame("orders").loc[result.ids[~bad.to_numpy()]]
    assert got["customer_id"].tolist() == [cids[c] for c in good["customer"]]
    assert got["ordered_at"].tolist() == good["ordered_at"].tolist()
    assert got["amount"].tolist() == good["amount"].tolist()  # exactly: the text is decimal, so is the reading
    assert got["cost"].fillna(-1).tolist() == good["cost"].fillna(-1).tolist()
    assert got["channel"].tolist() == good["channel"].tolist() and got["status"].tolist() == good["status"].tolist()

    tasks = export["tasks"].assign(客户编号=export["tasks"]["客户编号"].map(code_to_id))
    ids = db.import_frame("tasks", tasks, mapping={"columns": {"任务主题": "subject", "截止日期": "due_at",
                                                                "客户编号": "customer_id", "是否完成": "done"},
                                                    "formats": {"due_at": {"format": "excel"}}})
    got = db.frame("tasks").loc[ids]
    assert got["done"].tolist() == export.truth["tasks"]["done"].tolist()
    assert got["due_at"].tolist() == export.truth["tasks"]["due_at"].tolist()


def test_docstring_examples():
    import doctest

    import crmcore.datasets._messy
    import crmcore.mapping

    for module in (crmcore.mapping, crmcore.datasets._messy):
        result = doctest.testmod(module, extraglobs={"pd": pd})
        assert result.attempted > 0 and result.failed == 0, module


@pytest.mark.parametrize("text, says", [
    # json.loads kept the last of a repeated key: a hand-edited file that
    # mapped "A" twice silently lost the first target.
    ('{"columns": {"A": "name", "A": "region"}}', "the key 'A' appears twice"),
    ('{"columns": {"A": "name"}, "columns": {"B": "name"}}', "the key 'columns' appears twice"),
    # Nested deeper than Python's JSON reader goes: RecursionError.
    ('{"columns": ' + "[" * 100_000 + "]" * 100_000 + "}", "nested too deeply"),
])
def test_a_mapping_file_with_a_repeated_or_runaway_key_is_refused_by_name(db, cid, tmp_path, text, says):
    path = tmp_path / "m.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(crm.ValidationError, match=says) as caught:
        Mapping.load(path)
    assert str(path) in str(caught.value)
    refused(lambda: db.import_frame("orders", orders(cid, 1), mapping=path), contains=says)
    assert db.count("orders") == 0


@pytest.mark.parametrize("mapping", [None, Mapping(unknown="custom")], ids=["plain", "unknown to custom"])
def test_a_csv_header_naming_a_column_twice_is_refused_as_a_frame_is(db, tmp_path, mapping):
    """pandas renames the second 'email' of a header to 'email.1': the import
    then failed on a field 'email.1' the file does not have, or (unknown
    columns kept as custom fields) silently kept the second e-mail as a
    custom field 'email.1'."""
    path = tmp_path / "twice.csv"
    path.write_text("name,email,email\nAcme,a@x.com,b@x.com\n", encoding="utf-8")
    before = db.count("customers")
    with pytest.raises(crm.ValidationError, match="the file has the columns 'email' more than once"):
        db.import_csv("customers", path, mapping=mapping)
    assert db.count("customers") == before
    # A header that really says email.1 is the file's own name, kept as given.
    path.write_text("name,email,email.1\nAcme,a@x.com,b@x.com\n", encoding="utf-8")
    if mapping is not None:
        db.import_csv("customers", path, mapping=mapping)
        assert json.loads(db.frame("customers")["custom"].iloc[-1]) == {"email.1": "b@x.com"}
