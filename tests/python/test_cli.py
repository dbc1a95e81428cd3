"""The command line, run as a script is run: `python -m crmcore ...` in a subprocess."""
import doctest
import json
import os
import re
import sqlite3
import subprocess
import sys

import pandas as pd
import pytest

import crmcore as crm
from crmcore import _versions, cli, demo

ENV = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))


def crmcore(*args, cwd=None):
    """Runs `python -m crmcore ARGS`; returns (exit status, stdout, stderr)."""
    done = subprocess.run([sys.executable, "-m", "crmcore", *map(str, args)], capture_output=True, text=True,
                          env=ENV, cwd=cwd, timeout=300)
    return done.returncode, done.stdout, done.stderr


def report(*args, status=0):
    """Runs a command with --json; checks its exit status and returns its report."""
    code, out, err = crmcore(*args, "--json")
    assert code == status, err
    return json.loads(out)


CUSTOMERS = """Company,Phone,region
上海星海科技有限公司,+86 138 0013 8000,east
Beta GmbH,not a phone,west
,139 0000 0000,north
Gamma,021-6552 1234,south
"""


@pytest.fixture
def files(tmp_path):
    (tmp_path / "customers.csv").write_text(CUSTOMERS, encoding="utf-8")
    crm.Mapping(columns={"Company": "name", "Phone": "phone"}).save(tmp_path / "mapping.json")
    return tmp_path


def test_import_with_a_mapping_lands_the_good_rows_and_reports_the_bad_ones(files):
    store = files / "s.crm"
    r = report("import", store, "customers", files / "customers.csv", "--mapping", files / "mapping.json",
               "--on-error", "skip", "--rejected", files / "rejected.csv", status=cli.PARTIAL)
    assert (r["ok"], r["rows"], r["imported"]) == (False, 4, 2)
    # Rows are named with the file's column beside the field, and the file's values.
    assert [(e["row"], e["column"], e["field"]) for e in r["rejected"]] == [(1, "Phone", "phone"),
                                                                            (2, "Company", "name")]
    assert r["rejected"][0]["values"] == {"Company": "Beta GmbH", "Phone": "not a phone", "region": "west"}
    assert "is not a phone number" in r["rejected"][0]["reason"]
    rejected = pd.read_csv(files / "rejected.csv")
    assert rejected["row"].tolist() == [1, 2] and rejected["Company"].tolist()[0] == "Beta GmbH"
    with crm.open(store) as db:
        landed = db.frame("customers")
    source = pd.read_csv(files / "customers.csv").iloc[[0, 3]]
    assert landed["name"].tolist() == source["Company"].tolist()
    assert landed["region"].tolist() == source["region"].tolist()
    # The human form of the same: a summary and the rows on stderr, exit status 3.
    code, out, err = crmcore("import", store, "customers", files / "customers.csv", "--mapping",
                             files / "mapping.json", "--on-error", "skip")
    assert (code, out) == (cli.PARTIAL, "")
    assert "2 rows rejected" in err and "row 1, column 'Phone' (field 'phone')" in err


def test_json_imports_report_rejected_rows_with_their_values(files):
    rows = [{"Company": "Acme", "Phone": "+86 138 0013 8000", "tags": ["vip"]},
            {"Company": "Beta", "Phone": "12", "custom": {"tier": 2}},
            {"Phone": "139 0000 0000"}]
    (files / "mapped.json").write_text(json.dumps(rows), encoding="utf-8")
    (files / "plain.json").write_text(json.dumps({"customers": [
        {"name": r.get("Company"), "phone": r["Phone"], **{k: v for k, v in r.items() if k in ("tags", "custom")}}
        for r in rows]}), encoding="utf-8")
    store = files / "s.crm"
    mapped = report("import", store, "customers", files / "mapped.json", "--mapping", files / "mapping.json",
                    "--on-error", "skip", status=cli.PARTIAL)
    assert [e["column"] for e in mapped["rejected"]] == ["Phone", "Company"]
    # Without a mapping the core reads the file; the values still come from it.
    plain = report("import", store, "customers", files / "plain.json", "--on-error", "skip", status=cli.PARTIAL)
    for r in (mapped, plain):
        assert r["imported"] == 1 and [(e["row"], e["field"]) for e in r["rejected"]] == [(1, "phone"), (2, "name")]
    assert mapped["rejected"][0]["values"] == {"Company": "Beta", "Phone": "12", "custom": {"tier": 2}}
    assert plain["rejected"][0]["values"] == {"name": "Beta", "phone": "12", "custom": {"tier": 2}}
    with crm.open(store) as db:
        assert db.find("customers", tag="vip")["name"].tolist() == ["Acme", "Acme"]


def test_weekly_upsert_with_a_dry_run_first(files):
    store = files / "s.crm"
    week1 = files / "week1.csv"
    week1.write_text("code,Company,Phone\nK1,Acme,+86 138 0013 8000\nK2,Beta,139 1234 5678\n", encoding="utf-8")
    week2 = files / "week2.csv"
    week2.write_text("code,Company,Phone\nK2,Beta Ltd,139 1234 5678\nK3,Gamma,12\n", encoding="utf-8")
    crm.Mapping(columns={"code": "external_id", "Company": "name", "Phone": "phone"}).save(files / "erp.json")
    upsert = ["--mapping", files / "erp.json", "--mode", "upsert"]
    r = report("import", store, "customers", week1, *upsert)
    assert (r["inserted"], r["updated"]) == (2, 0)
    # The dry run finds week 2's bad phone and writes nothing.
    r = report("import", store, "customers", week2, *upsert, "--dry-run", status=cli.PARTIAL)
    assert [(p["row"], p["column"], p["value"]) for p in r["problems"]] == [(1, "Phone", "12")]
    code, out, err = crmcore("import", store, "customers", week2, *upsert, "--dry-run")
    assert code == cli.PARTIAL and out == "" and "row 1, column 'Phone' (field 'phone')" in err
    with crm.open(store) as db:
        assert db.frame("customers")["name"].tolist() == ["Acme", "Beta"]
    r = report("import", store, "customers", week2, *upsert, "--on-error", "skip", status=cli.PARTIAL)
    assert (r["inserted"], r["updated"], [e["row"] for e in r["rejected"]]) == (0, 1, [1])
    with crm.open(store) as db:
        frame = db.frame("customers")
    assert dict(zip(frame["external_id"], frame["name"])) == {"K1": "Acme", "K2": "Beta Ltd"}
    code, _, err = crmcore("import", store, "customers", week2, "--key", "external_id")
    assert code == cli.FAILED and "--mode upsert" in err


def test_a_failed_import_lands_nothing_and_says_which_row(files):
    store = files / "s.crm"
    r = report("import", store, "customers", files / "customers.csv", "--mapping", files / "mapping.json",
               status=cli.FAILED)
    assert r["ok"] is False and (r["rejected"][0]["row"], r["rejected"][0]["column"]) == (1, "Phone")
    with crm.open(store) as db:
        assert db.count("customers") == 0
    # Without the mapping the file's columns are not fields.
    code, out, err = crmcore("import", store, "customers", files / "customers.csv")
    assert code == cli.FAILED and out == "" and "'Company'" in err and "not a field" in err
    # A mapping file that is no mapping, and one that leaves a column unnamed.
    (files / "bad_mapping.json").write_text('{"Company": "name"}')
    code, _, err = crmcore("import", store, "customers", files / "customers.csv", "--mapping",
                           files / "bad_mapping.json")
    assert code == cli.FAILED and "unknown keys 'Company'" in err
    crm.Mapping(columns={"Company": "name"}).save(files / "partial.json")
    code, _, err = crmcore("import", store, "customers", files / "customers.csv", "--mapping", files / "partial.json")
    assert code == cli.FAILED and "columns 'Phone' are not fields" in err



def test_a_file_that_is_not_utf8_is_named_with_its_line(files):
    """Python's UnicodeDecodeError names no file and no line ("can't decode
    byte 0xe9 in position 3"): every file the import reads (the records as
    CSV or JSON, the mapping) is named, with the line of the first bad bytes
    (a Latin-1 é on line 3) or what the file is (UTF-16 with its mark)."""
    store = files / "s.crm"
    (files / "latin1.csv").write_bytes("name,city\nAnn,Paris\nJosé,München\n".encode("latin-1"))
    (files / "utf16.csv").write_bytes("name,city\nAnn,Paris\n".encode("utf-16"))
    (files / "latin1.json").write_bytes('[{"name": "Ann"},\n {"name": "José"}]'.encode("latin-1"))
    (files / "latin1_mapping.json").write_bytes('{"columns":\n {"Nomé": "name"}}'.encode("latin-1"))
    cases = [(("latin1.csv",), "latin1.csv' line 3, column 4"), (("latin1.csv", "--dry-run"), "latin1.csv' line 3"),
             (("utf16.csv",), "utf16.csv' is UTF-16 text"),
             (("latin1.json", "--mode", "upsert", "--key", "name"), "latin1.json' line 2, column 15"),
             (("customers.csv", "--mapping", files / "latin1_mapping.json"), "latin1_mapping.json' line 2, column 7")]
    for args, said in cases:
        code, out, err = crmcore("import", store, "customers", files / args[0], *args[1:])
        assert code == cli.FAILED and said in err and "UTF-8" in err, (args, err)
    with crm.open(store) as db:
        assert db.count("customers") == 0
    with pytest.raises(crm.ValidationError, match=r"latin1\.csv' line 3, column 4"):
        crm.open().import_csv("customers", files / "latin1.csv")
    with pytest.raises(crm.ValidationError, match=r"latin1_mapping\.json' line 2"):
        crm.Mapping.load(files / "latin1_mapping.json")

def test_import_is_quiet_on_success_unless_asked(files):
    good = files / "good.csv"
    good.write_text("name,phone\nAcme,+86 138 0013 8000\n", encoding="utf-8")
    assert crmcore("import", files / "s.crm", "customers", good) == (0, "", "")
    code, out, err = crmcore("import", files / "s.crm", "customers", good, "-v")
    assert code == 0 and out.strip() == f"imported 1 of 1 customers from {good}" and err == ""


def test_export_and_import_back_in_both_formats(files):
    store = files / "s.crm"
    with crm.open(store) as db:
        cid = db.add("customers", name="Acme", phone="+86 138 0013 8000", tags=["vip", "b2b"],
                     custom={"tier": 2})
        db.add("customers", name="Odd tags", tags=["a;b", "c, d", "e"])
        db.import_frame("orders", pd.DataFrame({"customer_id": cid, "ordered_at": ["2025-01-05", "2025-03-18"],
                                                "amount": [1200.0, 860.5], "channel": ["web", None],
                                                "tags": [["rush"], []]}))
        orders = db.frame("orders")
        customers = db.frame("customers")
    for fmt in ("json", "csv"):
        for kind in ("customers", "orders"):  # in a new store, customers get the ids the orders name
            out = files / f"{kind}.{fmt}"
            assert crmcore("export", store, kind, "-o", out) == (0, "", "")
            assert crmcore("import", files / f"{fmt}.crm", kind, out) == (0, "", "")
    with crm.open(files / "csv.crm") as db:
        # Tags come back whole from CSV too, those holding ';' or ',' as well.
        assert db.frame("customers")["tags"].tolist() == customers["tags"].tolist()
    with crm.open(store) as db:
        assert crmcore("import", store, "orders", files / "orders.json") == (0, "", "")
        assert crmcore("import", store, "orders", files / "orders.csv") == (0, "", "")
        again = db.frame("orders").drop(columns=["created_at", "updated_at"])
    # Each format brought back the same orders, with new ids.
    expected = orders.drop(columns=["created_at", "updated_at"])
    for copy in (again.iloc[2:4], again.iloc[4:6]):
        pd.testing.assert_frame_equal(copy.reset_index(drop=True), expected.reset_index(drop=True))
    # The CSV holds what db.frame holds, read back by plain pandas.
    csv = pd.read_csv(files / "orders.csv", index_col="id")
    assert csv.index.tolist() == orders.index.tolist()
    assert csv["amount"].tolist() == orders["amount"].tolist()
    assert pd.to_datetime(csv["ordered_at"]).tolist() == orders["ordered_at"].tolist()
    assert csv["tags"].fillna("").tolist() == ["rush", ""]
    # To stdout: the records themselves.
    code, out, _ = crmcore("export", store, "customers")
    assert code == 0 and json.loads(out)[0]["tags"] == ["vip", "b2b"] and json.loads(out)[0]["custom"] == {"tier": 2}
    r = report("export", store, "customers", "-o", files / "c.csv")
    assert (r["records"], r["format"]) == (2, "csv")


def test_backup_check_restore_vacuum(files):
    store, copy, back = files / "s.crm", files / "copy.crm", files / "back.crm"
    with crm.open(store) as db:
        db.import_frame("customers", pd.DataFrame({"name": [f"c{i}" for i in range(500)]}))
    r = report("backup", store, copy, "--verify")
    assert r["integrity"] == "ok" and r["bytes"] == os.path.getsize(copy)
    assert crmcore("backup", store, copy) == (0, "", "")  # replaces the old backup, quietly
    assert crmcore("check", copy) == (0, "", "")
    assert crmcore("restore", copy, back) == (0, "", "")
    with crm.open(back) as db:
        assert db.count("customers") == 500
    before = os.path.getsize(back)
    r = report("vacuum", back)
    # The report gives the file's sizes (a store with no free pages may come
    # out a page larger or smaller: test_backup checks the space given back
    # after deletes).
    assert (r["bytes_before"], r["bytes_after"]) == (before, os.path.getsize(back))
    code, out, _ = crmcore("check", back, "-v")
    assert code == 0 and out.strip() == f"{back}: ok"


def test_check_fails_on_a_broken_store_and_lists_the_problems(files):
    store = files / "s.crm"
    with crm.open(store) as db:
        cid = db.add("customers", name="Acme")
        db.add("orders", customer_id=cid, ordered_at="2025-01-01", amount=1.0)
    # An order whose customer vanished behind the store's back.
    con = sqlite3.connect(store)
    con.execute("PRAGMA foreign_keys=OFF")
    con.execute("DELETE FROM customers")
    con.commit()
    con.close()
    code, out, err = crmcore("check", store)
    assert code == cli.FAILED and "foreign key broken in orders" in out and "1 problem" in err
    r = report("check", store, status=cli.FAILED)
    assert r["ok"] is False and r["problems"] == [line for line in out.splitlines()]


def test_info_counts_each_kind(files):
    store = files / "s.crm"
    with crm.open(store) as db:
        data = crm.datasets.synthetic(n_customers=60, seed=3)
        crm.datasets.load(db, data, progress=False)
        counts = db.counts()
    r = report("info", store)
    assert r["counts"] == counts.to_dict() and r["records"] == int(counts.sum())
    assert r["schema_version"] == crm.open(store).schema_version() and r["bytes"] >= os.path.getsize(store)
    code, out, _ = crmcore("info", store)
    assert code == 0
    lines = dict(line.split(None, 1) for line in out.splitlines() if line.startswith("  "))
    assert {k: int(v.replace(",", "")) for k, v in lines.items()} == counts.to_dict()


def test_report_prints_what_the_store_holds(files):
    store = files / "s.crm"
    with crm.open(store) as db:
        crm.datasets.load(db, crm.datasets.synthetic(n_customers=80, seed=5), progress=False)
        orders = db.count("orders")
    code, out, _ = crmcore("report", store)
    assert code == 0 and out.startswith("# crmcore report")
    # The kinds column is as wide as the longest kind name, which grows with the schema.
    assert re.search(rf"\| orders +\| +{orders:,} \|", out)
    for section in ("## Revenue by year", "## Looking a customer up by phone", "## RFM segments", "(PageRank)"):
        assert section in out
    assert crmcore("report", store, "-o", files / "r.md") == (0, "", "")
    untimed = re.compile(r"[\d,]+ µs")  # the lookup's timing differs between runs
    assert untimed.sub("", (files / "r.md").read_text(encoding="utf-8")) == untimed.sub("", out)


def test_versions_report_the_core_s_sqlite(files):
    r = report("versions")
    assert r["versions"]["sqlite"] == crm._core.build_info()["sqlite"]
    assert r["versions"]["crmcore"] == crm.__version__


@pytest.mark.parametrize("command", [None, "import", "export", "backup", "restore", "check", "vacuum", "info",
                                     "report", "versions"])
def test_every_command_has_help(command):
    code, out, _ = crmcore(*([command] if command else []), "--help")
    assert code == 0 and out.startswith(f"usage: crmcore {command or ''}".rstrip())
    if command not in (None, "versions"):
        assert "--json" in out and "STORE" in out
        # Every command takes a server's store too: the help said "the store file".
        assert "postgresql://" in " ".join(out.split()), command


def test_usage_errors_and_missing_stores(files):
    assert crmcore()[0] == cli.USAGE
    code, _, err = crmcore("import", files / "s.crm", "customerz", files / "customers.csv")
    assert code == cli.USAGE and "invalid choice: 'customerz'" in err
    # A store that is not there is an error, and is not made.
    for command in ("check", "info", "export", "report", "vacuum", "backup"):
        args = [command, files / "none.crm"] + {"export": ["orders"], "backup": [files / "b.crm"]}.get(command, [])
        code, out, err = crmcore(*args)
        assert (code, out) == (cli.FAILED, "") and "no store at" in err, command
    r = report("restore", files / "none.crm", files / "x.crm", status=cli.FAILED)
    assert "no backup file" in r["error"]
    assert sorted(p.name for p in files.iterdir()) == ["customers.csv", "mapping.json"]


def test_docstring_examples_run():
    for module in (cli, _versions, demo):
        result = doctest.testmod(module, extraglobs={"pd": pd})
        assert result.attempted > 0 and result.failed == 0, module.__name__


def test_the_commands_take_a_postgresql_url(files, postgres_url):
    # A server's store: check, info, export, backup to a file, vacuum, and a
    # restore from that file into an empty schema of the server.
    if not crm._core.have_postgres():
        pytest.skip("this crmcore was built without libpq")
    empty = postgres_url + "_empty"
    code, _, err = crmcore("info", empty)
    assert code == cli.FAILED and "no store at" in err
    with crm.open(postgres_url, actor="cli-test") as db:
        db.import_frame("customers", pd.DataFrame({"name": [f"c{i}" for i in range(50)]}))
    assert crmcore("check", postgres_url) == (0, "", "")
    assert report("info", postgres_url)["counts"]["customers"] == 50
    out = files / "c.json"
    assert report("export", postgres_url, "customers", "-o", out)["records"] == 50
    copy = files / "copy.crm"
    r = report("backup", postgres_url, copy, "--verify")
    assert r["integrity"] == "ok" and r["bytes"] == os.path.getsize(copy)
    with crm.open(copy) as db:
        assert db.count("customers") == 50
    r = report("vacuum", postgres_url)
    assert r["bytes_before"] > 0 and r["bytes_after"] > 0
    back = postgres_url + "_back"
    assert report("restore", copy, back)["bytes"] is None
    with crm.open(back) as db:
        assert sorted(db.frame("customers")["name"]) == sorted(f"c{i}" for i in range(50))
        assert db.audit_check().empty


def test_a_store_that_must_exist_is_opened_once_and_nothing_is_made(files, postgres_url, monkeypatch):
    # crm.open(create=False): a missing file, an empty one, a schema without
    # a store are refused with "no store at", and nothing is made in them.
    missing, empty = files / "none.crm", files / "empty.crm"
    empty.write_bytes(b"")
    for path in (missing, empty):
        with pytest.raises(crm.StorageError, match="no store at"):
            crm.open(path, create=False)
    assert not missing.exists() and empty.stat().st_size == 0
    with crm.open(files / "s.crm") as db:
        db.add("customers", name="Acme")
    with crm.open(files / "s.crm", create=False) as db:
        assert db.count("customers") == 1
    # The commands open the store they work on once (a server's too: it was
    # opened read-only first to prove it exists).
    opened = []

    def counted(path, **options):
        opened.append(str(path))
        return crm.open(path, **options)

    monkeypatch.setattr(cli, "open_store", counted)
    stores = [files / "s.crm"]
    if crm._core.have_postgres():
        with pytest.raises(crm.StorageError, match="no store at schema"):
            crm.open(postgres_url + "_none", create=False)
        with crm.open(postgres_url) as db:
            db.add("customers", name="Acme")
        stores.append(postgres_url)
    for store in stores:
        for command in (["info"], ["check"], ["report"], ["export", "customers", "-o", files / "c.json"]):
            opened.clear()
            assert cli.main([command[0], str(store), *map(str, command[1:])]) == cli.OK
            assert opened == [str(store)], command


def test_import_of_a_csv_naming_a_column_twice_fails_naming_it(tmp_path):
    (tmp_path / "twice.csv").write_text("name,phone,phone\nAcme,13800138000,13900139000\n", encoding="utf-8")
    code, out, err = crmcore("import", tmp_path / "s.crm", "customers", tmp_path / "twice.csv")
    assert code == 1 and "the file has the columns 'phone' more than once" in err
    assert crm.open(tmp_path / "s.crm").count("customers") == 0


@pytest.mark.parametrize("send", ["nohostport", "smtp.example.com:99999999", "smtp.example.com:", "h:25x"])
def test_run_due_with_a_bad_send_address_is_bad_usage_and_runs_nothing(tmp_path, send):
    """--send was parsed after the rules had run: their actions were written
    and the command still failed (exit 1, "invalid literal for int()"), so a
    rerun could not tell what had been done."""
    store = tmp_path / "s.crm"
    db = crm.open(store)
    db.add("customers", name="Acme", email="a@example.com")
    db.automation.add_rule("daily", on="schedule", kind="customers", every_days=1,
                           actions=[{"do": "message", "subject": "hello", "body": "x"}])
    code, out, err = crmcore("run-due", store, "--now", "2025-01-02", "--send", send)
    assert code == 2 and "--send" in err and "HOST:PORT" in err
    again = crm.open(store)
    assert again.count("automation_runs") == 0 and again.count("outbox") == 0
