"""The relationship graph (placeholder until the graph part lands)."""


class Graph:
    """An in-memory graph over record ids."""


class GraphMethods:
    """Methods that the store's Database gains from the graph part (db.graph(), ...)."""
