"""Data sets: a realistic synthetic CRM, its loader into a store, and CDNOW.

>>> import crmcore as crm
>>> data = crm.datasets.synthetic(1_000, seed=0)
>>> db = crm.open(":memory:")
>>> ids = crm.datasets.load(db, data)
"""
from .cdnow import cdnow
from .loader import load
from .synthetic import KINDS, REFERENCES, SyntheticCRM, synthetic

__all__ = ["KINDS", "REFERENCES", "SyntheticCRM", "cdnow", "load", "synthetic"]
