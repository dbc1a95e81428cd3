"""The record store (placeholder until it lands)."""
from .graph import GraphMethods
from .scoring import ScoringMethods


class Database(GraphMethods, ScoringMethods):
    """A crmcore store."""


def open(path=":memory:"):  # noqa: A001 - the contract name is crm.open
    return Database()
