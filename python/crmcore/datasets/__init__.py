"""Data sets: a realistic synthetic CRM (with duplicates injected, if asked), its loader into a store, and CDNOW.

>>> import crmcore as crm
>>> data = crm.datasets.synthetic(1_000, seed=0)
>>> db = crm.open(":memory:")
>>> ids = crm.datasets.load(db, data)
>>> db.count("customers")
1000
"""
from ._cdnow import cdnow
from ._distributor import distributor
from ._duplicates import with_duplicates
from ._loader import load
from ._messy import MessyExport, messy_export
from ._sales_team import sales_team
from ._synthetic import KINDS, REFERENCES, SyntheticCRM, synthetic

__all__ = ["KINDS", "MessyExport", "REFERENCES", "SyntheticCRM", "cdnow", "distributor", "load", "messy_export", "sales_team",
           "synthetic", "with_duplicates"]
