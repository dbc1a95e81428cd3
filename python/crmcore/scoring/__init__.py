"""Customer-value scoring (placeholder until the scoring part lands)."""

__all__: list = []


class ScoringMethods:
    """Methods that the store's Database gains from the scoring part (db.rfm(), ...)."""
