"""The crmcore command line: what runs unattended, from scripts and cron.

    crmcore import STORE KIND FILE   load a CSV or JSON file of records
    crmcore export STORE KIND        write the records of a kind as JSON or CSV
    crmcore backup STORE DEST        a consistent copy, taken while the store is in use
    crmcore restore BACKUP STORE     put a backup back
    crmcore check STORE              integrity, foreign keys, the audit log's hash chain
    crmcore vacuum STORE             rebuild the file without its free pages
    crmcore info STORE               records per kind, schema version, size
    crmcore report STORE             a Markdown report of what the store holds
    crmcore run-due STORE            run the automation rules whose time has come (for cron)
    crmcore versions                 what crmcore was built with, for bug reports

The same runs as ``python -m crmcore``. Every subcommand has --help, --json
(one JSON object on stdout, on failure too) and -v/--verbose. Nothing is
printed on success unless asked, except by the commands whose job is to
print (info, report, versions, export to stdout); errors go to stderr.

Exit status: 0 done; 1 failed (a failed import lands nothing; a check that
finds problems fails too); 2 bad usage; 3 an import with --on-error skip
rejected rows (the good ones landed; the report lists the others), or an
import's --dry-run found problems; 130 interrupted.
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import shutil
import sys
import tempfile
import time
from typing import Any

import numpy as np
import pandas as pd

from . import _core
from ._text_file import undecodable
from .demo import store_report
from .mapping import Mapping
from .store import open as open_store
from .store import restore as restore_store

__all__ = ["main"]

OK, FAILED, USAGE, PARTIAL, INTERRUPTED = 0, 1, 2, 3, 130
KINDS = [k["name"] for k in _core.kinds()]
# Columns an exported file has that an import does not take: the store gives
# its own (import_json ignores them the same way).
STORE_COLUMNS = ("id", "created_at", "updated_at")
# What the core puts before each tag when tags travel as one text (kTagSeparator).
TAG_SEPARATOR = "\x1f"
# Rejected rows listed on stderr; --json or --rejected FILE gives them all.
SHOWN_REJECTED = 20


class Failure(Exception):
    """A command failed; `report` goes into the --json output."""

    def __init__(self, message: str, report: dict | None = None):
        super().__init__(message)
        self.report = report or {}


class Output:
    """Where a command's results go: JSON on stdout, text on request, errors on stderr."""

    def __init__(self, args: argparse.Namespace):
        self.command = args.command
        self.json = args.json
        self.verbose = args.verbose

    def done(self, report: dict, text: str | None = None, *, show: bool = False, ok: bool = True) -> None:
        """Reports a finished command: its JSON report, or `text` when
        printing is the command's job (`show`) or -v asked for it."""
        if self.json:
            print(_dumps({"command": self.command, "ok": ok, **report}))
        elif text is not None and (show or self.verbose):
            print(text)

    def failed(self, message: str, report: dict | None = None) -> None:
        print(f"crmcore {self.command}: error: {message}", file=sys.stderr)
        if self.json:
            print(_dumps({"command": self.command, "ok": False, "error": message, **(report or {})}))

    def note(self, text: str) -> None:
        """A human line about a partial result: always on stderr."""
        print(text, file=sys.stderr)


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, default=_plain)


def _plain(value: Any) -> Any:
    """A JSON-able form of a value from a DataFrame."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return str(value)


def _message(error: BaseException) -> str:
    # KeyError (which crm.NotFound also is) quotes its message in str().
    return str(error.args[0]) if isinstance(error, KeyError) and error.args else str(error)


# Every command opens a store as crm.open does: a file or a server's schema.
_STORE = "the store file, or a postgresql://...?schema=NAME URL"


def _host_port(text: str) -> "tuple[str, int]":
    """--send's HOST:PORT (HOST may be left out: localhost), read when the
    arguments are: a bad one is bad usage before any rule runs."""
    host, colon, port = text.rpartition(":")
    if not colon or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"{text!r} is not HOST:PORT (a port from 1 to 65535)")
    return host or "localhost", int(port)


def _is_url(path: Any) -> bool:
    return str(path).startswith(("postgresql://", "postgres://"))


def _open_existing(path: Any, reading: bool = False, **options: Any) -> Any:
    """Opens a store that must exist already (crm.open would make a new one):
    a file, or a PostgreSQL URL whose schema holds a store. One open, which
    makes nothing and refuses a missing store with "no store at ...".

    A command that only reads (``reading``) opens a write-protected file (a
    backup kept chmod 444) read-only: opened for writing, SQLite falls back
    to reading it and leaves the "-wal" and "-shm" it made beside it. A
    writable file is opened as before (an older store is migrated)."""
    if reading and not _is_url(path) and os.path.isfile(path) and not os.access(path, os.W_OK):
        options["readonly"] = True
    return open_store(path, create=False, **options)


def _format(path: str | None, given: str | None, default: str | None = None) -> str:
    if given:
        return given
    suffix = pathlib.Path(path or "").suffix.lower().lstrip(".")
    if suffix in ("csv", "json"):
        return suffix
    if default:
        return default
    raise Failure(f"cannot tell the format of '{path}' from its name: give --format csv or --format json")


def _size(path: Any) -> "int | None":
    if _is_url(path):
        return None  # on a server: `vacuum` reports the schema's tables' sizes
    path = pathlib.Path(path)
    return sum(p.stat().st_size for p in (path, pathlib.Path(f"{path}-wal")) if p.exists())


def _megabytes(n: int) -> str:
    return f"{n / 1e6:,.1f} MB"


def _progress() -> bool | None:
    # A bar for long work on a terminal; none in cron mail or a log file,
    # where nothing is printed on success.
    return None if sys.stderr.isatty() else False


# -- import ------------------------------------------------------------------------

def _read_mapping(path: str) -> Mapping:
    try:
        return Mapping.load(path)
    except OSError as e:
        raise Failure(f"cannot read the mapping '{path}': {e}") from None


def _json_records(source: pathlib.Path, kind: str) -> list:
    """The list of records in a JSON file: the file itself, or its member `kind`."""
    try:
        with open(source, encoding="utf-8") as f:
            data = json.load(f)
    except UnicodeDecodeError as e:
        raise Failure(undecodable(source, e, csv=False)) from None
    except json.JSONDecodeError as e:
        raise Failure(f"'{source}' line {e.lineno}, column {e.colno}: not valid JSON ({e.msg})") from None
    if isinstance(data, dict) and isinstance(data.get(kind), list):
        data = data[kind]
    if not isinstance(data, list):
        raise Failure(f"'{source}' holds neither a list of records nor an object with a list '{kind}'")
    return data


def _import(db, args, source: pathlib.Path, fmt: str, mapping: Mapping | None):
    """Runs the import (or its dry run) the way the file and the options ask;
    returns what the store's import method returns and whether the core read
    the file itself (so that rejected rows' values must come from the file)."""
    insert = args.mode == "insert"
    options = {"on_error": args.on_error, "dry_run": args.dry_run}
    if not args.dry_run:
        options["progress"] = _progress()
    if not insert:
        options.update(mode=args.mode, key=args.key.split(",") if args.key else None)
    if fmt == "csv":
        try:
            header = list(pd.read_csv(source, nrows=0, dtype=str).columns)
        except UnicodeDecodeError as e:  # it names no file and no line
            raise Failure(undecodable(source, e)) from None
        columns = [c for c in header if c not in STORE_COLUMNS] if insert else header
        return db.import_csv(args.kind, source, mapping=mapping, usecols=columns, **options), False
    if mapping is None and insert:
        return db.import_json(args.kind, source, **options), True
    rows = pd.DataFrame(_json_records(source, args.kind))
    if insert:
        rows = rows.drop(columns=[c for c in STORE_COLUMNS if c in rows.columns])
    return db.import_frame(args.kind, rows, mapping=mapping, **options), False


def _rejected(errors: pd.DataFrame, records: list | None) -> list:
    """The rejected rows as plain dicts: row, the file's column (given a
    mapping), field, reason and the row's values (from `records`, the file's,
    when the core read the file itself)."""
    described = ("column", "field", "reason")
    out = []
    for row, e in errors.iterrows():
        if records is not None:
            values = records[int(row)] if isinstance(records[int(row)], dict) else {}
        else:
            values = {c: e[c] for c in errors.columns if c not in described and not _missing(e[c])}
        about = {c: e[c] for c in described if c in errors.columns and not _missing(e[c])}
        out.append({"row": int(row), **about, "values": values})
    return out


def _missing(value: Any) -> bool:
    return value is None or (not isinstance(value, (list, dict)) and bool(pd.isna(value)))


def _explain(r: dict) -> str:
    where = f"column '{r['column']}' (field '{r.get('field')}')" if "column" in r else f"field '{r.get('field')}'"
    row = "" if r.get("row") is None else f"row {r['row']}, "
    return f"  {row}{where}: {r.get('reason')}"


def _list_problems(out: Output, problems: list) -> None:
    for r in problems[:SHOWN_REJECTED]:
        out.note(_explain(r))
    if len(problems) > SHOWN_REJECTED:
        out.note(f"  ... and {len(problems) - SHOWN_REJECTED:,} more (--json or --rejected FILE lists all)")


def _write_rejected(path: str, rejected: list) -> None:
    rows = [{k: v for k, v in r.items() if k != "values"} | r["values"] for r in rejected]
    pd.DataFrame(rows, columns=None if rows else ["row", "field", "reason"]).to_csv(path, index=False)


def cmd_import(args, out: Output) -> int:
    source = pathlib.Path(args.file)
    if not source.is_file():
        raise Failure(f"no file '{source}'")
    if args.key and args.mode == "insert":
        raise Failure("--key names the records an upsert or update writes to: give --mode upsert or update")
    fmt = _format(args.file, args.format)
    mapping = _read_mapping(args.mapping) if args.mapping else None
    started = time.perf_counter()
    with open_store(args.store) as db:
        result, read_by_core = _import(db, args, source, fmt, mapping)
    report = {"store": args.store, "kind": args.kind, "file": str(source), "format": fmt, "mode": args.mode}
    if args.dry_run:  # a DataFrame of problems: row, column, field, value, reason
        problems = [{k: v for k, v in r.items() if not _missing(v)} for r in result.to_dict("records")]
        report.update(dry_run=True, problems=problems)
        out.done(report, f"{source}: no problems, nothing written", ok=not problems)
        if problems and not out.json:
            out.note(f"{source}: {len(problems):,} problem(s); nothing was written:")
            _list_problems(out, problems)
        return PARTIAL if problems else OK
    ids, errors = (result, None) if isinstance(result, np.ndarray) else (result.ids, result.errors)
    rejected = []
    if errors is not None and len(errors):
        rejected = _rejected(errors, _json_records(source, args.kind) if read_by_core else None)
    imported = int((ids >= 0).sum())
    report.update(rows=len(ids), imported=imported, rejected=rejected,
                  seconds=round(time.perf_counter() - started, 3))
    if not isinstance(result, np.ndarray) and result.updated is not None:
        report.update(inserted=result.inserted, updated=result.updated_count)
    if args.rejected:
        _write_rejected(args.rejected, rejected)
    summary = f"imported {imported:,} of {len(ids):,} {args.kind} from {source}"
    if not rejected:
        out.done(report, summary)
        return OK
    out.done(report, ok=False)
    if not out.json:
        out.note(f"{summary}; {len(rejected):,} rows rejected:")
        _list_problems(out, rejected)
    return PARTIAL


# -- export, backup, restore, check, vacuum -------------------------------------------

def _csv_tags(tags: list) -> str:
    """A record's tags as one CSV cell that imports back as the same tags:
    "vip; key account", or, when a tag itself holds ';' or ',', the store's
    own form (each tag after the separator the core splits at)."""
    if any(";" in t or "," in t for t in tags):
        return "".join(TAG_SEPARATOR + t for t in tags)
    return "; ".join(tags)


def cmd_export(args, out: Output) -> int:
    to_stdout = args.output in (None, "-")
    if to_stdout and args.json:
        raise Failure("--json needs -o FILE: without it the records themselves go to stdout")
    fmt = _format(args.output, args.format, default="json" if to_stdout else None)
    with _open_existing(args.store, reading=True) as db:
        if fmt == "csv":
            frame = db.frame(args.kind)
            frame["tags"] = frame["tags"].map(_csv_tags)
            frame.to_csv(sys.stdout if to_stdout else args.output)
            written = len(frame)
        elif to_stdout:
            with tempfile.TemporaryDirectory() as folder:
                path = pathlib.Path(folder) / "records.json"
                written = db.export_json(args.kind, path)
                with open(path, "rb") as f:
                    sys.stdout.flush()
                    shutil.copyfileobj(f, sys.stdout.buffer)
        else:
            written = db.export_json(args.kind, args.output)
    report = {"store": args.store, "kind": args.kind, "output": args.output or "-", "format": fmt,
              "records": written}
    if to_stdout:
        sys.stdout.flush()
        if out.verbose:
            out.note(f"exported {written:,} {args.kind}")
    else:
        out.done(report, f"exported {written:,} {args.kind} to {args.output}")
    return OK


def cmd_backup(args, out: Output) -> int:
    started = time.perf_counter()
    with _open_existing(args.store, reading=True) as db:
        db.backup(args.dest, progress=_progress())
    dest = pathlib.Path(args.dest)
    report = {"store": args.store, "backup": args.dest, "bytes": _size(dest),
              "seconds": round(time.perf_counter() - started, 3)}
    if args.verify:
        with open_store(dest) as copy:
            problems = copy.integrity_check()
        report["integrity"] = problems
        if problems != "ok":
            raise Failure(f"the backup '{dest}' failed its integrity check: {problems}", report)
    out.done(report, f"backed up {args.store} to {dest} ({_megabytes(report['bytes'])}) "
                     f"in {report['seconds']:.1f} s" + (", checked" if args.verify else ""))
    return OK


def cmd_restore(args, out: Output) -> int:
    started = time.perf_counter()
    restore_store(args.backup, args.store, progress=_progress())
    report = {"backup": args.backup, "store": args.store, "bytes": _size(args.store),
              "seconds": round(time.perf_counter() - started, 3)}
    out.done(report, f"restored {args.store} from {args.backup} in {report['seconds']:.1f} s")
    return OK


def cmd_check(args, out: Output) -> int:
    # Opened despite foreign triggers or views, so that the check names them.
    with _open_existing(args.store, reading=True, allow_foreign=True) as db:
        result = db.integrity_check()
        audit = db.audit_check()
        foreign = db.foreign_objects
    problems = [] if result == "ok" else result.splitlines()
    problems += [f"audit entry {seq}: {reason}" for seq, reason in audit["reason"].items()]
    problems += [f"{what} was not created by crmcore" for what in foreign]
    if not problems:
        out.done({"store": args.store, "problems": []}, f"{args.store}: ok")
        return OK
    if not out.json:
        print("\n".join(problems))
    raise Failure(f"{len(problems)} problem(s) in '{args.store}'", {"store": args.store, "problems": problems})


def cmd_vacuum(args, out: Output) -> int:
    with _open_existing(args.store) as db:
        sizes = db.vacuum()
    out.done({"store": args.store, **sizes},
             f"vacuumed {args.store}: {_megabytes(sizes['bytes_before'])} -> {_megabytes(sizes['bytes_after'])}")
    return OK


# -- info, report, versions --------------------------------------------------------------

def cmd_info(args, out: Output) -> int:
    path = args.store
    with _open_existing(path, reading=True) as db:
        counts = {kind: db.count(kind) for kind in KINDS}
        version = db.schema_version()
    size = _size(path)
    report = {"store": str(path), "bytes": size, "schema_version": version, "crmcore": _core.__version__,
              "records": sum(counts.values()), "counts": counts}
    width = max(map(len, KINDS)) + 4
    lines = [f"{'store':<{width}}{path}"]
    if size is not None:
        lines.append(f"{'size':<{width}}{_megabytes(size)} ({size:,} bytes)")
    lines += [f"{'schema version':<{width}}{version}", f"{'records':<{width}}{report['records']:,}"]
    lines += [f"  {kind:<{width - 2}}{n:,}" for kind, n in counts.items()]
    out.done(report, "\n".join(lines), show=True)
    return OK


def cmd_report(args, out: Output) -> int:
    with _open_existing(args.store, reading=True) as db:
        text = store_report(db)
    if args.output:
        pathlib.Path(args.output).write_text(text, encoding="utf-8")
        out.done({"store": args.store, "output": args.output}, f"wrote the report to {args.output}")
    else:
        out.done({"store": args.store, "report": text}, text.rstrip("\n"), show=True)
    return OK


def cmd_run_due(args, out: Output) -> int:
    with _open_existing(args.store) as db:
        done = db.automation.run_due(args.now)
        sent = None
        if args.send:
            host, port = args.send
            sent = db.automation.send_outbox(host, port, sender=args.sender)
    by_rule = {int(k): int(v) for k, v in done.groupby("rule_id").size().items()}
    text = f"{len(done)} action(s) by {len(by_rule)} rule(s)" + (f"; outbox: {sent}" if sent else "")
    out.done({"store": args.store, "acted": len(done), "by_rule": by_rule, "sent": sent}, text)
    return OK


def cmd_versions(args, out: Output) -> int:
    from ._versions import versions

    info = versions()
    width = max(map(len, info)) + 2
    out.done({"versions": info}, "\n".join(f"{k:<{width}}{v}" for k, v in info.items()), show=True)
    return OK


# -- the parser ---------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``crmcore`` (one subparser per command)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", help="print one JSON object (a report) on stdout")
    common.add_argument("-v", "--verbose", action="store_true", help="say what was done")
    parser = argparse.ArgumentParser(prog="crmcore", description=__doc__.split("\n\n")[0],
                                     epilog=__doc__.split("\n\n", 2)[2],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"crmcore {_core.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name, handler, help_text, description=None):
        p = sub.add_parser(name, parents=[common], help=help_text, description=description or help_text)
        p.set_defaults(handler=handler)
        return p

    kind = {"choices": KINDS, "metavar": "KIND", "help": f"a record kind: {', '.join(KINDS)}"}
    p = command("import", cmd_import, "load a CSV or JSON file of records",
                "Loads a file of records of one kind: all or nothing, or with --on-error skip the good "
                "rows (exit status 3 when any were rejected, or with --dry-run would be; the report "
                "lists them). In an insert, columns id, created_at and updated_at in the file are "
                "ignored: the store gives its own.")
    p.add_argument("store", metavar="STORE", help=_STORE + " (made if missing)")
    p.add_argument("kind", **kind)
    p.add_argument("file", metavar="FILE", help="a CSV file with a header line, or a JSON list of objects")
    p.add_argument("--format", choices=["csv", "json"], help="the file's format (default: from its name)")
    p.add_argument("--on-error", choices=["raise", "skip"], default="raise",
                   help="raise: a bad row fails the import and nothing lands (default); "
                        "skip: the good rows land and the bad ones are reported")
    p.add_argument("--mapping", metavar="FILE",
                   help="a saved crm.Mapping (JSON): the file's column names, values and formats")
    p.add_argument("--mode", choices=["insert", "upsert", "update"], default="insert",
                   help="insert new records (default); upsert: write each row to the record its key names, "
                        "adding the rest; update: existing records only")
    p.add_argument("--key", metavar="FIELD[,FIELD]",
                   help="the fields that name a row's record (upsert, update; default: id, else the external key)")
    p.add_argument("--dry-run", action="store_true",
                   help="check the whole file and report every problem; write nothing")
    p.add_argument("--rejected", metavar="FILE", help="write the rejected rows to this CSV file")

    p = command("export", cmd_export, "write the records of a kind as JSON or CSV")
    p.add_argument("store", metavar="STORE", help=_STORE)
    p.add_argument("kind", **kind)
    p.add_argument("-o", "--output", metavar="FILE", help="the file to write (default: stdout)")
    p.add_argument("--format", choices=["csv", "json"], help="default: from the output's name, else json")

    p = command("backup", cmd_backup, "take a consistent copy of a store while it is in use",
                "Copies the store as it stands when the backup begins, while other processes go on "
                "writing. DEST is replaced only once the copy is whole.")
    p.add_argument("store", metavar="STORE", help=_STORE)
    p.add_argument("dest", metavar="DEST", help="the backup file to write")
    p.add_argument("--verify", action="store_true", help="run the integrity check on the copy")

    p = command("restore", cmd_restore, "put a backup back",
                "Checks the backup, then replaces STORE (or makes it) with it in one transaction.")
    p.add_argument("backup", metavar="BACKUP", help="a backup made by `crmcore backup` (or any crmcore store)")
    p.add_argument("store", metavar="STORE", help="the store file to replace, or a postgresql://...?schema=NAME URL of an empty schema to copy it into")

    p = command("check", cmd_check, "run the integrity, foreign-key and audit-chain checks (exit status 1 on problems)")
    p.add_argument("store", metavar="STORE", help=_STORE)

    p = command("vacuum", cmd_vacuum, "rebuild the file without its free pages (after large deletes)")
    p.add_argument("store", metavar="STORE", help=_STORE)

    p = command("info", cmd_info, "print records per kind, schema version and size")
    p.add_argument("store", metavar="STORE", help=_STORE)

    p = command("report", cmd_report, "print a Markdown report of what the store holds")
    p.add_argument("store", metavar="STORE", help=_STORE)
    p.add_argument("-o", "--output", metavar="FILE", help="write the report to this file instead")

    p = command("run-due", cmd_run_due, "run the date and schedule rules whose time has come",
                "Runs the active date and schedule automation rules due by now (or --now); each rule acts "
                "once per record and occasion, however often this runs. With --send, then sends the "
                "outbox's queued e-mails through the SMTP server HOST:PORT.")
    p.add_argument("store", metavar="STORE", help=_STORE)
    p.add_argument("--now", metavar="TIME", help="the time to run as (default: now)")
    p.add_argument("--send", metavar="HOST:PORT", type=_host_port,
                   help="then send the queued e-mails through this SMTP server")
    p.add_argument("--sender", metavar="ADDRESS", default="crmcore@localhost", help="the From address (with --send)")

    command("versions", cmd_versions, "print what crmcore was built with and runs on, for bug reports")
    return parser


def main(argv: list | None = None) -> int:
    """Runs one command line (``sys.argv[1:]`` by default) and returns the exit status.

    >>> main(["check", "no-such-file.crm"])
    1
    """
    args = build_parser().parse_args(argv)
    out = Output(args)
    try:
        return args.handler(args, out)
    except KeyboardInterrupt:
        out.failed("interrupted")
        return INTERRUPTED
    except Failure as e:
        out.failed(str(e), e.report)
    except _core.ValidationError as e:
        # The import was refused whole: for a bad row, that row; else what was wrong.
        # (The core's errors carry row, field and reason; those raised in Python may not.)
        row = getattr(e, "row", None)
        detail = {k: v for k, v in (("column", getattr(e, "column", None)), ("field", getattr(e, "field", None)),
                                    ("reason", getattr(e, "reason", None))) if v is not None}
        out.failed(str(e), {"rejected": [{"row": row, **detail, "values": {}}]} if row is not None else detail)
    except BrokenPipeError:
        # The reader went away (`crmcore report x.crm | head`): not an error
        # to shout about, but nothing more can be written to stdout either.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (_core.Error, OSError, ValueError) as e:
        out.failed(_message(e))
    return FAILED
