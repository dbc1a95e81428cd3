"""Rules that act, grouped on ``db.automation`` the way pandas groups ``.str``.

A rule is a record of ``automation_rules``: a trigger, a condition in the
``filters`` form of :meth:`Database.find` and a list of actions. Rules
triggered by writes (``created``, ``changed``, ``playbook``) run in the core,
inside the write's transaction, over all the records a write touched at once
(imports included); time-triggered rules (``date``, ``score``, ``schedule``)
run when :meth:`AutomationMethods.run_due` (or ``crmcore run-due``) is called.
Every action is audited with its rule: the entries of the tasks, messages
and points it makes, and of its changes to records that existed, name it in
``cause_id``; the tags and fields ``created`` rules give an insert's new
records land with the insert, whose one entry lists them per rule
(``changes["rules"]``) and per record (``changes["records"]``).

Actions (each a dict with ``"do"``):

- ``{"do": "task", "subject": "Call {name}", "due_days": 2}``: a task for the
  record's owner (owner_id, staff_id or assignee_id), about its customer;
- ``{"do": "tag", "add": [...], "remove": [...]}``;
- ``{"do": "set", "field": "status", "value": "vip"}``;
- ``{"do": "assign", "to": 12}`` (the owner field, or ``"field"``);
- ``{"do": "message", "channel": "email", "subject": ..., "body": ...}``: a
  message in the outbox, to the record's (or its customer's) address;
- ``{"do": "playbook", "name": "welcome"}``: the playbook's rules act on the records.
- ``{"do": "points", "program": "club"}`` (orders, payments): the members of
  the programme among the records' customers earn the amount at its rate, in
  the points ledger, each record once (see :mod:`crmcore.members`).

``{field}`` in a subject or body is the record's value of that field.
"""
from __future__ import annotations

import contextlib
import json
from typing import Any, Iterable

import numpy as np
import pandas as pd

from . import _core
from ._args import MAX_DAYS, _count, _invalid, _number, _record_id, _record_ids
from .scoring._columns import NS_PER_DAY, TIME_RANGE, as_of_ns, shifted, utc_now


def at_ns(value: Any, field: str = "now", where: str | None = None) -> int:
    """A time as int64 nanoseconds (None: now); a bad one is refused naming
    ``field`` and ``where``, the function, as :func:`as_of_ns` does.

    >>> at_ns("1970-01-02")
    86400000000000
    """
    ns = as_of_ns(utc_now() if value is None else value, field, where)
    if ns is None:  # (as_of_ns gives None for None only)
        raise ValueError(f"{value!r} is not a time")
    return ns


def _ns(times: pd.Series) -> pd.Series:
    """Datetimes as int64 nanoseconds, whatever unit pandas gave them."""
    return times.astype("datetime64[ns]").astype("int64")

TRIGGERS = ("created", "changed", "date", "score", "schedule", "playbook")
#: A schedule rule with this ``field`` runs on the festivals of the care
#: calendar (:data:`crmcore.care.MAIN_FESTIVALS`) instead of every N days.
FESTIVALS = "festivals"


def festival_days(since: int, now: int) -> np.ndarray:
    """The midnights (int64 ns) of the care calendar's main festivals in
    (since, now].

    >>> [str(pd.Timestamp(d).date()) for d in festival_days(at_ns("2025-09-30"), at_ns("2025-10-06"))]
    ['2025-10-01', '2025-10-06']
    """
    from . import _holidays
    from .care import MAIN_FESTIVALS

    first, last = pd.Timestamp(since).date(), pd.Timestamp(now).date()
    days = sorted({d for d, name in _holidays.festivals(first, last) if name in MAIN_FESTIVALS})
    ns = np.array([at_ns(pd.Timestamp(d)) for d in days], dtype=np.int64)
    return ns[(ns > since) & (ns <= now)]
_RULES = "automation_rules"


def write_lock(db: Any) -> Any:
    """The store's write lock for a read that decides a write (a run of a
    rule, a ledger entry): a transaction of its own, or the caller's, which
    holds it already."""
    return contextlib.nullcontext() if db._core.in_transaction() else db.transaction()


def _jsonable(value: Any) -> Any:
    """A condition's or action's value as JSON keeps it: dates as text."""
    if isinstance(value, (list, tuple, set, np.ndarray, pd.Index, pd.Series)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (pd.Timestamp, np.datetime64)) or hasattr(value, "isoformat"):
        return pd.Timestamp(value).isoformat()
    if isinstance(value, np.generic):
        return value.item()
    return value


def condition_text(condition: Any) -> str | None:
    """The rule's condition as stored: JSON of the ``filters`` form
    (a list of ``(field, op, value)``, or a list of such lists for an OR).

    >>> condition_text([("amount", ">", 100)])
    '[["amount", ">", 100]]'
    """
    if condition is None:
        return None
    return json.dumps(_jsonable(condition), ensure_ascii=False)


def _condition(text: Any) -> Any:
    """A stored condition back in the ``filters`` form (tuples)."""
    if not isinstance(text, str) or not text:
        return None
    doc = json.loads(text)
    if not doc:
        return None
    grouped = isinstance(doc[0], list) and doc[0] and isinstance(doc[0][0], list)
    groups = doc if grouped else [doc]
    return [[tuple(p) for p in group] for group in groups]


class AutomationMethods:
    """Rules, their runs, the outbox and playbooks: ``db.automation.<TAB>``.

    >>> import crmcore as crm
    >>> db = crm.open(":memory:")
    >>> _ = db.automation.add_rule("big orders", on="created", kind="orders",
    ...                            condition=[("amount", ">=", 1000)], actions=[{"do": "tag", "add": ["big"]}])
    >>> c = db.add("customers", name="Acme")
    >>> o = db.add("orders", customer_id=c, ordered_at="2025-01-05", amount=1500.0)
    >>> db.get("orders", o)["tags"]
    ['big']
    """

    def __init__(self, db: Any):
        self._db = db

    def __repr__(self) -> str:
        return f"<automation of {self._db!r}>"

    # -- rules ---------------------------------------------------------------
    def add_rule(self, name: str, *, on: str, kind: str, actions: Iterable[dict], field: str | None = None,
                 condition: Any = None, threshold: float | None = None, offset_days: int | None = None,
                 annual: bool = False, every_days: int | None = None, playbook: str | None = None,
                 active: bool = True, description: str | None = None) -> int:
        """Adds a rule and returns its id. ``on`` is the trigger: ``created``,
        ``changed`` (``field`` changed), ``date`` (``field``'s date plus
        ``offset_days`` reached; ``annual`` for birthdays), ``score`` (the
        score ``field`` reached ``threshold``, see :meth:`scored`),
        ``schedule`` (every ``every_days``), ``playbook`` (started by a
        ``{"do": "playbook"}`` action of another rule). A rule naming an unknown
        kind or field, a bad condition or action (also a set or assign value
        the field refuses, a staff record or points programme that does not
        exist), or a score rule without a threshold is refused with
        ValidationError and nothing is written.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> rule = db.automation.add_rule("vip", on="changed", kind="customers", field="status",
        ...                               condition=[("status", "==", "vip")], actions=[{"do": "tag", "add": ["vip"]}])
        >>> db.automation.rules()["trigger"].tolist()
        ['changed']
        """
        every_days = _count(every_days, "add_rule", "every_days", low=1, none=True)
        offset_days = _count(offset_days, "add_rule", "offset_days", low=-MAX_DAYS, none=True)
        threshold = _number(threshold, "add_rule", "threshold", none=True)
        return self._db.add(_RULES, name=name, trigger=on, record_kind=kind, field=field,
                            condition=condition_text(condition),
                            actions=json.dumps(_jsonable(list(actions)), ensure_ascii=False),
                            threshold=threshold, offset_days=offset_days, annual=annual, every_days=every_days,
                            playbook=playbook, active=active, description=description)

    def rules(self) -> pd.DataFrame:
        """The rules, indexed by id, with the columns of :meth:`add_rule`'s
        fields (name, trigger, record_kind, field, condition and actions as
        stored JSON, threshold, offset_days, annual, every_days, playbook,
        active, description, ...).

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> r = db.automation.add_rule("big orders", on="created", kind="orders",
        ...                            condition=[("amount", ">=", 1000)], actions=[{"do": "tag", "add": ["big"]}])
        >>> db.automation.rules()[["name", "trigger"]].values.tolist()
        [['big orders', 'created']]
        """
        return self._db.frame(_RULES)

    def rule(self, rule: "int | str") -> int:
        """The id (an int) of a rule given by id or name (NotFound otherwise).

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> r = db.automation.add_rule("big orders", on="created", kind="orders",
        ...                            condition=[("amount", ">=", 1000)], actions=[{"do": "tag", "add": ["big"]}])
        >>> db.automation.rule("big orders") == r
        True
        """
        if not isinstance(rule, str):
            return _record_id(rule, _RULES, "rule")
        ids = self._db.ids(_RULES, [("name", "==", rule)])
        if len(ids) == 0:
            raise _core.NotFound(f"no automation rule named {rule!r}")
        return int(ids[0])

    def enable(self, rule: "int | str", active: bool = True) -> None:
        """Turns a rule (id or name) on (or off with ``active=False``); returns None.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> r = db.automation.add_rule("big orders", on="created", kind="orders",
        ...                            condition=[("amount", ">=", 1000)], actions=[{"do": "tag", "add": ["big"]}])
        >>> db.automation.enable("big orders", active=False)
        >>> db.automation.rules()["active"].tolist()
        [False]
        """
        self._db.update(_RULES, self.rule(rule), active=active)

    def runs(self, rule: "int | str | None" = None) -> pd.DataFrame:
        """The noted runs of time-triggered rules (of one rule, id or name, or all):
        columns rule_id, record_id, occasion, value and the common ones.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> _ = db.add("contacts", name="Li", birthday="1990-03-02")
        >>> _ = db.automation.add_rule("birthday", on="date", kind="contacts", field="birthday", annual=True,
        ...                            actions=[{"do": "tag", "add": ["birthday"]}])
        >>> _ = db.automation.run_due("2025-03-02 09:00")
        >>> len(db.automation.runs("birthday"))
        1
        """
        filters = None if rule is None else [("rule_id", "==", self.rule(rule))]
        return self._db.frame("automation_runs", filters=filters)

    # -- time-triggered rules ---------------------------------------------------
    def run_due(self, now: Any = None) -> pd.DataFrame:
        """Runs the active date and schedule rules whose time has come by
        ``now`` (default: the current time) and returns what they acted on,
        columns ``rule_id``, ``record_id``, ``occasion``. A date rule acts on the
        records whose date (plus ``offset_days``; each year's anniversary when
        ``annual``) falls after the rule's last run (or within the day before
        ``now`` on its first) and at or before ``now``; each (rule, record,
        occasion) acts once, however often this is called, also by two
        schedulers at once (each rule is read and run under the store's
        write lock).

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> _ = db.add("contacts", name="Li", email="li@example.com", birthday="1990-03-02")
        >>> _ = db.automation.add_rule("birthday", on="date", kind="contacts", field="birthday", annual=True,
        ...                            actions=[{"do": "message", "subject": "Happy birthday, {name}"}])
        >>> len(db.automation.run_due("2025-03-02 09:00")), len(db.automation.run_due("2025-03-02 10:00"))
        (1, 0)
        >>> db.automation.outbox()["subject"].tolist()
        ['Happy birthday, Li']
        """
        now_ns = at_ns(now, "now", "run_due")
        rules = self.rules()
        rules = rules[rules["active"].fillna(True).astype(bool) & rules["trigger"].isin(["date", "schedule"])]
        done = []
        for rule_id in rules.index:
            # The rule's last run and runs are read and acted on under the
            # store's write lock, so that two schedulers at once (another
            # process, another machine on a shared server) act once.
            with self._locked():
                acted = self._run_due_rule(int(rule_id), now_ns)
            if acted is not None:
                done.append(acted)
        if not done:
            return pd.DataFrame({"rule_id": pd.Series([], dtype="int64"), "record_id": pd.Series([], dtype="int64"),
                                 "occasion": pd.Series([], dtype="datetime64[ns]")})
        return pd.concat(done, ignore_index=True)

    def _locked(self) -> Any:
        """The store's write lock for one rule's read and run."""
        return write_lock(self._db)

    def _run_due_rule(self, rule_id: int, now_ns: int) -> pd.DataFrame | None:
        """One rule's part of run_due: what it acted on, or None when it was not due."""
        try:
            r = self._db.frame(_RULES, ids=[rule_id]).iloc[0]
        except _core.NotFound:
            return None  # deleted meanwhile
        if not (pd.isna(r["active"]) or bool(r["active"])):
            return None  # switched off meanwhile
        last = r["last_run_at"]
        since = at_ns(last) if pd.notna(last) else shifted(now_ns, -1, "run_due", "now", "now").value
        if r["trigger"] == "schedule" and r["field"] == FESTIVALS:
            days = festival_days(since, now_ns)
            ids = np.asarray(self._db.ids(r["record_kind"], _condition(r["condition"])), dtype=np.int64)
            ids, occasions = np.tile(ids, len(days)), np.repeat(days, len(ids))
        elif r["trigger"] == "schedule":
            every = int(r["every_days"]) if pd.notna(r["every_days"]) else 1
            if pd.notna(last) and since + every * NS_PER_DAY > now_ns:
                return None
            ids = np.asarray(self._db.ids(r["record_kind"], _condition(r["condition"])), dtype=np.int64)
            occasions = np.full(len(ids), now_ns, dtype=np.int64)
        else:
            ids, occasions = _occasions(self._db, r, since, now_ns)
        if r["trigger"] != "schedule" or r["field"] == FESTIVALS:  # each (record, occasion) acts once
            seen = self.runs(int(rule_id))
            if len(seen) and len(ids):
                old = set(zip(seen["record_id"].astype("int64"), _ns(seen["occasion"])))
                keep = np.array([(i, o) not in old for i, o in zip(ids.tolist(), occasions.tolist())], dtype=bool)
                ids, occasions = ids[keep], occasions[keep]
        acted = self._db._core.run_rule(int(rule_id), ids, occasions, np.full(len(ids), np.nan), now_ns)
        # A record may have several occasions in one run (a birthday each
        # year since a long-missed run, two festivals): it is acted on
        # once, and each occasion is noted and returned.
        hit = np.isin(ids, acted)
        return pd.DataFrame({"rule_id": int(rule_id), "record_id": ids[hit],
                             "occasion": pd.to_datetime(occasions[hit])})

    def scored(self, score: str, values: pd.Series, now: Any = None) -> pd.DataFrame:
        """Tells the score rules watching ``score`` the values an analysis
        gave (a Series indexed by record id). A rule acts on the records whose
        value reached its threshold from below (or from no value); a record
        that falls back below is noted, so that it acts again when it next
        crosses. ``now`` is when (default the current time). Returns the
        columns rule_id and record_id of the records acted on.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> a, b = db.add("customers", name="A"), db.add("customers", name="B")
        >>> _ = db.automation.add_rule("risk", on="score", kind="customers", field="churn_risk", threshold=0.8,
        ...                            actions=[{"do": "tag", "add": ["at risk"]}])
        >>> db.automation.scored("churn_risk", pd.Series({a: 0.9, b: 0.1}))["record_id"].tolist() == [a]
        True
        >>> len(db.automation.scored("churn_risk", pd.Series({a: 0.95, b: 0.2})))
        0
        """
        now_ns = at_ns(now, "now", "scored")
        rules = self.rules()
        rules = rules[rules["active"].fillna(True).astype(bool) & (rules["trigger"] == "score")
                      & (rules["field"] == score)]
        values = _scores(values)
        out = []
        for rule_id, r in rules.iterrows():
            with self._locked():  # the last values read as the run that follows leaves them (run_due's reason)
                seen = self.runs(int(rule_id))
                last = (seen.sort_values("occasion").groupby("record_id")["value"].last()
                        if len(seen) else pd.Series(dtype="float64"))
                before = last.reindex(values.index)
                threshold = float(r["threshold"])
                up = (values >= threshold) & ~(before >= threshold)
                down = (values < threshold) & (before >= threshold)
                for mask, act in ((up, True), (down, False)):
                    chosen = values[mask]
                    ids = chosen.index.to_numpy(dtype=np.int64)
                    if act or len(ids):
                        acted = self._db._core.run_rule(int(rule_id), ids, np.full(len(ids), now_ns, dtype=np.int64),
                                                        chosen.to_numpy(dtype=np.float64), now_ns, act)
                        if act:
                            out.append(pd.DataFrame({"rule_id": int(rule_id), "record_id": acted}))
        if not out:
            return pd.DataFrame({"rule_id": pd.Series([], dtype="int64"), "record_id": pd.Series([], dtype="int64")})
        return pd.concat(out, ignore_index=True)

    def preview(self, rule: "int | str | dict", start: Any, end: Any, *, scores: Any = None) -> pd.DataFrame:
        """What a rule would have done from ``start`` to ``end``, without
        writing anything: columns ``record_id``, ``at`` (when it would have acted)
        and ``actions``. ``rule`` is a stored rule (id or name) or the keyword
        arguments of :meth:`add_rule` as a dict, so that a rule can be tried
        before it is added. Every trigger can be tried:

        - ``created``: the records created in the window, judged as they were created;
        - ``date``: the dates (plus offset, each year when annual) in the window;
        - ``changed``: the changes of the field in the window, from the audit
          log's old and new values (``deals.stage`` from the stage history,
          whose times are the moves' own), judged as the record was just after;
        - ``score``: the crossings of the threshold from below (or from no
          value) among ``scores`` (a frame of record_id, at, value: the values
          each analysis gave; default: the values :meth:`scored` noted);
        - ``schedule``: a run at ``start`` and every ``every_days`` after,
          each on the records that existed and met the condition then.

        The condition is judged on the values the record had at that moment,
        rebuilt from the audit log (see :mod:`crmcore._preview`).

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> _ = db.add("contacts", name="Li", birthday="1990-03-02")
        >>> p = db.automation.preview({"name": "bd", "on": "date", "kind": "contacts", "field": "birthday",
        ...                            "annual": True, "actions": [{"do": "tag", "add": ["bd"]}]},
        ...                           "2024-01-01", "2024-12-31")
        >>> p["at"].dt.strftime("%Y-%m-%d").tolist()
        ['2024-03-02']
        """
        from . import _preview

        r = _rule_row(self, rule)
        start_ns, end_ns = at_ns(start, "start", "preview"), at_ns(end, "end", "preview")
        kind, condition = r["record_kind"], _condition(r["condition"])
        window = (pd.Timestamp(start_ns), pd.Timestamp(end_ns))
        empty = np.array([], dtype=np.int64)
        if r["trigger"] == "created":
            ids = np.asarray(self._db.ids(kind, [[("created_at", "between", window)]]), dtype=np.int64)
            at = self._db.frame(kind, ids=ids, columns=["created_at"])["created_at"].to_numpy() if len(ids) \
                else np.array([], dtype="datetime64[ns]")
            ids, at = _judged(self._db, kind, condition, ids, at)
        elif r["trigger"] == "date":
            ids, occ = _occasions(self._db, r, start_ns - 1, end_ns)
            at = pd.to_datetime(occ).to_numpy()
        elif r["trigger"] == "changed" and kind == "deals" and r["field"] == "stage":
            moves = self._db.frame("deal_stages", filters=[("changed_at", "between", window)],
                                   columns=["deal_id", "stage", "changed_at"])
            # The condition judged on the deal as it is, with the stage it moved to.
            meets = set(self._db.ids("deals", [[c for c in g if c[0] != "stage"] for g in (condition or [[]])]))
            stage_ok = _stage_test(condition)
            keep = moves["deal_id"].isin(meets) & moves["stage"].map(stage_ok)
            ids, at = moves.loc[keep, "deal_id"].to_numpy(np.int64), moves.loc[keep, "changed_at"].to_numpy()
        elif r["trigger"] == "changed":
            moved = _preview.changes(self._db, kind, [r["field"]])
            moved = moved[(moved["at"] >= window[0]) & (moved["at"] <= window[1])]
            moved = moved[[not _same(o, n) for o, n in zip(moved["old"], moved["new"])]]
            ids, seqs = moved["record_id"].to_numpy(np.int64), moved["seq"].to_numpy(np.int64)
            values = _preview.as_of(self._db, kind, _preview.condition_fields(condition), ids, seqs, by="seq")
            keep = _preview.meets(kind, values, condition)
            ids, at = ids[keep], moved["at"].to_numpy()[keep]
        elif r["trigger"] == "score":
            ids, at = _crossings(self, r, scores, window)
            ids, at = _judged(self._db, kind, condition, ids, at)
        elif r["trigger"] == "schedule":
            every = int(r["every_days"]) if pd.notna(r.get("every_days")) else 1
            runs = pd.to_datetime(festival_days(start_ns - 1, end_ns)).to_numpy() if r.get("field") == FESTIVALS \
                else pd.date_range(window[0], window[1], freq=pd.Timedelta(days=every)).to_numpy()
            everyone = np.asarray(self._db.ids(kind), dtype=np.int64)
            ids = np.tile(everyone, len(runs))
            at = np.repeat(runs, len(everyone))
            ids, at = _judged(self._db, kind, condition, ids, at)
        else:  # playbook rules act when another rule starts them: try that rule
            raise ValueError(f"a {r['trigger']} rule acts when another rule starts its playbook: preview that rule")
        out = pd.DataFrame({"record_id": np.asarray(ids, dtype=np.int64) if len(ids) else empty,
                            "at": pd.to_datetime(at)})
        out["actions"] = r["actions"]
        return out.sort_values(["at", "record_id"], ignore_index=True)

    # -- the outbox and playbooks live in their own modules --------------------
    def outbox(self, status: str | None = None) -> pd.DataFrame:
        """The messages rules put in the outbox (all, or those of one ``status``:
        queued, sending, sent, failed), indexed by id, columns channel,
        to_address, subject, body, status, attempts, error, rule_id, record_id,
        customer_id, sent_at, message_id and the common ones.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> db.automation.outbox("queued").empty
        True
        """
        return self._db.frame("outbox", filters=None if status is None else [("status", "==", status)])

    def send_outbox(self, host: str = "localhost", port: int = 25, *, sender: str, **options: Any) -> dict:
        """Sends the queued e-mails over SMTP: see :func:`crmcore.outbox.send`.
        Returns the counts sent, failed, retry and left; with nothing queued
        it does not connect.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> db.automation.send_outbox("localhost", 25, sender="crm@example.com")
        {'sent': 0, 'failed': 0, 'retry': 0, 'left': 0}
        """
        from .outbox import send

        return send(self._db, host, port, sender=sender, **options)

    def install_playbook(self, name: str, **overrides: Any) -> list:
        """Adds the ready-made rule set ``name`` (its rules' fields changed by
        ``overrides``): see :mod:`crmcore.playbooks`. Returns the ids of the
        rules it added.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> len(db.automation.install_playbook("birthdays")) == len(db.automation.rules())
        True
        """
        from .playbooks import install

        return install(self._db, name, **overrides)

    def apply_lifecycle(self, as_of: Any = None, **thresholds: Any) -> pd.Series:
        """Writes each customer's lifecycle stage (:meth:`Database.lifecycle`)
        to ``customers.status`` through the write path, so that rules watching
        the status (the playbooks') act on the customers whose stage changed.
        Returns the stages written.

        >>> import crmcore as crm
        >>> db = crm.open(":memory:")
        >>> c = db.add("customers", name="Acme")
        >>> _ = db.add("orders", customer_id=c, ordered_at="2025-01-05", amount=100.0)
        >>> db.automation.apply_lifecycle("2025-02-01").tolist(), db.get("customers", c)["status"]
        (['new'], 'new')
        """
        from .playbooks import apply_lifecycle

        return apply_lifecycle(self._db, as_of, **thresholds)


def _scores(values: Any) -> pd.Series:
    """The scores scored() is told as float64 indexed by int64 record ids,
    those without a value left out. An index entry that is not a record id
    (1.5, True, 2**64-1) is refused naming it: cast, it would act on another
    record; a value that is not a number is refused too.

    >>> _scores(pd.Series({3: 0.5, 4: None})).to_dict()
    {3: 0.5}
    """
    if isinstance(values, dict):
        values = pd.Series(values, dtype=object)
    if not isinstance(values, pd.Series):
        raise _invalid("scored", "values", f"must be a Series of scores indexed by record id, got {type(values).__name__}")
    ids = _record_ids(values.index, "scored", "values")
    try:
        numbers = values.to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError):
        raise _invalid("scored", "values", "must be numbers (a score per record id)") from None
    out = pd.Series(numbers, index=pd.Index(ids))
    return out[out.notna()]


def _rule_row(methods: AutomationMethods, rule: Any) -> pd.Series:
    if isinstance(rule, dict):
        given = dict(rule)
        row = {"name": given.pop("name", "preview"), "trigger": given.pop("on"), "record_kind": given.pop("kind"),
               "condition": condition_text(given.pop("condition", None)),
               "actions": json.dumps(_jsonable(list(given.pop("actions"))), ensure_ascii=False)}
        row.update({k: given.pop(k, None) for k in ("field", "threshold", "offset_days", "annual", "every_days")})
        if given:
            raise TypeError(f"unknown rule keys: {sorted(given)}")
        # The condition is checked as the store checks it.
        methods._db.ids(row["record_kind"], _condition(row["condition"]), limit=0)
        return pd.Series(row)
    return methods._db.frame(_RULES, ids=[methods.rule(rule)]).iloc[0]


def _judged(db: Any, kind: str, condition: Any, ids: np.ndarray, at: np.ndarray) -> tuple:
    """The (record, moment) pairs whose record existed then and met the
    condition with the values it had then."""
    from . import _preview

    ids, at = np.asarray(ids, dtype=np.int64), np.asarray(at, dtype="datetime64[ns]")
    values = _preview.as_of(db, kind, _preview.condition_fields(condition), ids, at)
    keep = values["exists"].to_numpy(bool) & _preview.meets(kind, values, condition)
    return ids[keep], at[keep]


def _same(old: Any, new: Any) -> bool:
    return bool(old == new) if not isinstance(old, float) or not np.isnan(old) else new is None


def _crossings(methods: AutomationMethods, r: pd.Series, scores: Any, window: tuple) -> tuple:
    """The moments in the window where a score reached the rule's threshold
    from below (or from no value), record by record in time order."""
    if scores is None:  # the values scored() noted for rules on this score
        rules = methods.rules()
        watching = rules.index[(rules["trigger"] == "score") & (rules["field"] == r["field"])]
        noted = methods._db.frame("automation_runs", filters=[("rule_id", "in", watching.tolist())]) \
            if len(watching) else pd.DataFrame(columns=["record_id", "occasion", "value"])
        scores = noted.rename(columns={"occasion": "at"})[["record_id", "at", "value"]]
    scores = pd.DataFrame(scores)[["record_id", "at", "value"]].copy()
    scores["at"] = pd.to_datetime(scores["at"])
    scores = scores.dropna(subset=["value"]).drop_duplicates(["record_id", "at"], keep="last")
    scores = scores.sort_values(["record_id", "at"], kind="stable")
    before = scores.groupby("record_id")["value"].shift()
    threshold = float(r["threshold"])
    up = (scores["value"] >= threshold) & ~(before >= threshold)
    inside = (scores["at"] >= window[0]) & (scores["at"] <= window[1])
    hit = scores[up & inside]
    return hit["record_id"].to_numpy(np.int64), hit["at"].to_numpy()


def _stage_test(condition: Any):
    """Whether a stage meets the condition's stage predicates (== / in)."""
    tests = [c for g in (condition or [[]]) for c in g if c[0] == "stage"]

    def ok(stage: str) -> bool:
        for _, op, value in tests:
            values = value if isinstance(value, (list, tuple)) else [value]
            if (op in ("==", "=", "in") and stage not in values) or (op in ("!=", "not in") and stage in values):
                return False
        return True

    return ok


def _occasions(db: Any, r: pd.Series, since: int, now: int) -> tuple:
    """The records of a date rule whose occasion (the date plus
    offset_days; each year's anniversary when annual) lies in (since, now]."""
    kind, field = r["record_kind"], r["field"]
    ids = np.asarray(db.ids(kind, _condition(r["condition"])), dtype=np.int64)
    offset = int(r["offset_days"]) if pd.notna(r.get("offset_days")) else 0
    if not len(ids):
        return ids, np.array([], dtype=np.int64)
    dates = db.frame(kind, ids=ids, columns=[field])[field]
    dates = pd.to_datetime(dates).dropna()
    shift = pd.Timedelta(days=offset)
    if not bool(r.get("annual")) or pd.isna(r.get("annual")):
        try:
            occ = dates + shift
        except (OverflowError, pd.errors.OutOfBoundsDatetime):  # (a date near the store's ends, moved by the offset)
            raise _invalid("run_due", "offset_days", f"rule {r.name}: a {field} plus {offset} days is outside "
                                                     f"the dates the store keeps ({TIME_RANGE})") from None
        hit = (_ns(occ) > since) & (_ns(occ) <= now)
        return occ.index[hit].to_numpy(np.int64), _ns(occ[hit]).to_numpy()
    found_ids, found = [], []
    first = shifted(since, -shift, "run_due", "offset_days", f"rule {r.name}: the last run").year
    last = shifted(now, -shift, "run_due", "offset_days", f"rule {r.name}: now").year
    for year in range(first, last + 1):
        # Born on 29 February: the anniversary is the 28th in other years.
        leap = (year % 4 == 0 and year % 100 != 0) or year % 400 == 0
        day = dates.dt.day.where(~((dates.dt.month == 2) & (dates.dt.day == 29)) | leap, 28)
        occ = pd.to_datetime(pd.DataFrame({"year": year, "month": dates.dt.month, "day": day})) + shift
        hit = (_ns(occ) > since) & (_ns(occ) <= now)
        found_ids.append(occ.index[hit].to_numpy(np.int64))
        found.append(_ns(occ[hit]).to_numpy())
    return np.concatenate(found_ids), np.concatenate(found)
