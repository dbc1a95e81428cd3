"""Lifetime-value models, a drop-in for `lifetimes` (placeholder until they land)."""

__all__: list = []
