"""Lifecycle playbooks: ready-made rule sets, installed with one call and
edited afterwards like any rule (they are records of ``automation_rules``).

The lifecycle stages come from :meth:`Database.lifecycle` (the existing
scoring); :func:`apply_lifecycle` writes each customer's stage to
``customers.status`` through the write path, and the playbooks' rules watch
that field, so a customer who becomes new, loyal, at risk or churned is
handled as the stage asks, in the same transaction.
"""
from __future__ import annotations

from typing import Any

import pandas as pd

from . import _core
from .automation import AutomationMethods


def _rule(name: str, on: str, kind: str, actions: list, **more: Any) -> dict:
    return {"name": name, "on": on, "kind": kind, "actions": actions, **more}


#: The playbooks: each a list of add_rule arguments. Subjects and bodies are
#: templates ({name} is the customer's name); edit the rules once installed.
PLAYBOOKS: dict = {
    "welcome": [
        _rule("welcome: greet", "changed", "customers", [
            {"do": "tag", "add": ["new customer"]},
            {"do": "message", "subject": "Welcome, {name}",
             "body": "Thank you for your first order, {name}. Reply to this e-mail with any question."},
            {"do": "task", "subject": "Welcome call to {name}", "due_days": 2}],
            field="status", condition=[("status", "==", "new")]),
        _rule("welcome: follow up", "date", "customers", [
            {"do": "task", "subject": "Follow up with {name}: how was the first order?", "due_days": 1}],
            field="created_at", offset_days=14, condition=[("status", "==", "new")]),
    ],
    "loyal care": [
        _rule("loyal: thank and reward", "changed", "customers", [
            {"do": "tag", "add": ["loyal"], "remove": ["win-back"]},
            {"do": "message", "subject": "{name}, a members' offer for you",
             "body": "Thank you for staying with us. As a loyal customer you have member benefits and early offers."}],
            field="status", condition=[("status", "==", "loyal")]),
    ],
    "win-back": [
        _rule("win-back: ask why", "changed", "customers", [
            {"do": "tag", "add": ["win-back"]},
            {"do": "task", "subject": "Call {name}: ask why they stopped buying, note the reason", "due_days": 3},
            {"do": "message", "subject": "We miss you, {name}",
             "body": "It has been a while. Could you tell us why you stopped ordering? One line is enough."}],
            field="status", condition=[("status", "in", ["at risk", "churned"])]),
    ],
    "birthdays": [
        _rule("care: birthday greeting", "date", "contacts", [
            {"do": "message", "subject": "Happy birthday, {name}!", "body": "Best wishes from all of us."}],
            field="birthday", annual=True),
    ],
    # The festivals of the care calendar (Spring Festival, Mid-Autumn, ...):
    # a greeting to every person customer on each festival day.
    "holidays": [
        _rule("care: festival greeting", "schedule", "customers", [
            {"do": "message", "subject": "Season's greetings, {name}",
             "body": "Warm wishes for the festival from all of us."}],
            field="festivals", condition=[("kind", "==", "person")]),
    ],
}


def install(db: Any, name: str, **overrides: Any) -> list:
    """Adds the rules of playbook ``name`` (see :data:`PLAYBOOKS`) and returns
    their ids; ``overrides`` replace add_rule arguments in each of them
    (``active=False`` installs them switched off).

    >>> import crmcore as crm
    >>> db = crm.open(":memory:")
    >>> len(db.automation.install_playbook("welcome"))
    2
    """
    if not isinstance(name, str) or name not in PLAYBOOKS:
        raise _core.NotFound(f"no playbook {name!r} (playbooks: {', '.join(PLAYBOOKS)})")
    methods = AutomationMethods(db)
    with db.transaction():
        return [methods.add_rule(**{**rule, **overrides}) for rule in PLAYBOOKS[name]]


def apply_lifecycle(db: Any, as_of: Any = None, **thresholds: Any) -> pd.Series:
    """Writes each customer's lifecycle stage to ``customers.status`` (one
    bulk update through the write path; only the changed ones are changes
    for rules) and returns the stages, indexed by customer id.

    >>> import crmcore as crm
    >>> db = crm.open(":memory:")
    >>> c = db.add("customers", name="Acme")
    >>> _ = db.add("orders", customer_id=c, ordered_at="2025-01-05", amount=10.0)
    >>> apply_lifecycle(db, as_of="2025-01-10").tolist()
    ['new']
    """
    stages = db.lifecycle(as_of=as_of, **thresholds)["stage"].astype(str)
    frame = pd.DataFrame({"id": stages.index.to_numpy(), "status": stages.to_numpy()})
    if len(frame):
        db.import_frame("customers", frame, mode="update", key="id")
    return stages
