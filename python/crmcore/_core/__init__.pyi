"""
crmcore's C++ core (records, graph, scoring); use the crmcore package instead
"""
from __future__ import annotations
import collections.abc
import numpy
import numpy.typing
import typing
from . import clv
class Error(Exception):
    """Base of every crmcore error."""
class InterruptedAfterCommit(KeyboardInterrupt):
    """Ctrl-C came while a write was committing: the write was saved whole, so do not run it again. Attribute: result, what the write returned."""
    result: typing.Any
class NotFound(Error, KeyError):
    """A record, node or column that does not exist."""
class PermissionDenied(Error, PermissionError):
    """The access rules refuse this action to the scoped handle's user."""
class StorageError(Error):
    """The storage engine failed (I/O, locking, corruption)."""
class ValidationError(Error, ValueError):
    """Bad input. Attributes: kind, row, field, reason, record_id (None when unknown)."""
    kind: str | None
    row: int | None
    field: str | None
    reason: str | None
    record_id: int | None
__all__: list[str] = ['BusinessCalendar', 'Error', 'GraphCore', 'InterruptedAfterCommit', 'MAX_CUSTOM_DEPTH', 'NotFound', 'PermissionDenied', 'PinyinTable', 'ScopedStore', 'StorageError', 'Store', 'ValidationError', 'access_rules', 'affinity', 'affinity_rules', 'aging_groups', 'arrow_text_codes', 'attainment_sums', 'attribute_orders', 'build_info', 'clv', 'copy_store', 'days_late', 'duplicate_reasons', 'duplicate_score_floor', 'find_duplicates', 'first_at', 'forecast_sums', 'funnel_groups', 'funnel_reached', 'gamma_cdf', 'group_stats', 'have_postgres', 'id_positions', 'kinds', 'month_sums', 'months', 'normalize_email', 'normalize_name', 'normalize_phone', 'open_balances', 'pareto_classes', 'parse_amounts', 'parse_mode', 'period_sums', 'pg_bulk_load', 'phone_key', 'points_balance', 'points_expiring', 'profit_by_period', 'purchase_rhythm', 'purchase_totals', 'quantile_scores', 'restore', 'rfm', 'rhythm_risk', 'score_lookalikes', 'segment_orders', 'stage_days', 'stock_balances', 'stock_levels', 'stock_levels_kept', 'stock_moving_average', 'stock_outs', 'stock_period', 'store_mode', 'text_codes', 'tier_of', 'win_loss']
class BusinessCalendar:
    """
    Working days and opening hours (see crmcore/service/business_hours.hpp).
    """
    def __init__(self, utc_offset_s: typing.SupportsInt | typing.SupportsIndex, open_s: typing.SupportsInt | typing.SupportsIndex, close_s: typing.SupportsInt | typing.SupportsIndex, holidays: typing.Any, workdays: typing.Any) -> None:
        ...
    def add_hours(self, start: typing.Annotated[numpy.typing.ArrayLike, numpy.int64], hours: typing.Annotated[numpy.typing.ArrayLike, numpy.float64]) -> numpy.typing.NDArray[numpy.int64]:
        """
        The instant that many working hours after each start.
        """
    def hours_between(self, start: typing.Annotated[numpy.typing.ArrayLike, numpy.int64], end: typing.Annotated[numpy.typing.ArrayLike, numpy.int64]) -> numpy.typing.NDArray[numpy.float64]:
        """
        Working hours from each start to its end (ns since the epoch).
        """
    def is_working_day(self, days: typing.Annotated[numpy.typing.ArrayLike, numpy.int64]) -> numpy.typing.NDArray[numpy.uint8]:
        """
        Whether each local date (days since 1970-01-01) is a working day.
        """
class GraphCore:
    """
    CSR graph core; use crmcore.Graph instead.
    """
    @staticmethod
    def from_edges(src: typing.Annotated[numpy.typing.ArrayLike, numpy.int64], dst: typing.Annotated[numpy.typing.ArrayLike, numpy.int64], weight: typing.Annotated[numpy.typing.ArrayLike, numpy.float64] | None, type: typing.Annotated[numpy.typing.ArrayLike, numpy.uint8] | None, directed: bool, nodes: typing.Annotated[numpy.typing.ArrayLike, numpy.int64] | None) -> GraphCore:
        ...
    @staticmethod
    def from_table(where: str, table: str, src: str, dst: str, weight: str, type: str, directed: bool) -> tuple:
        """
        Edges read from a database table into a graph (see crmcore.Graph.from_table).
        """
    def attribute_bytes(self) -> int:
        ...
    def betweenness(self, arg0: numpy.ndarray | None, arg1: bool, arg2: bool) -> numpy.typing.NDArray[numpy.float64]:
        ...
    def bfs_distances(self, arg0: typing.SupportsInt | typing.SupportsIndex, arg1: typing.SupportsInt | typing.SupportsIndex, arg2: collections.abc.Sequence[typing.SupportsInt | typing.SupportsIndex] | None) -> numpy.typing.NDArray[numpy.int64]:
        ...
    def components(self) -> numpy.typing.NDArray[numpy.int64]:
        ...
    def degree(self, direction: str = 'out', weighted: bool = False) -> typing.Any:
        ...
    def dijkstra_distances(self, arg0: typing.SupportsInt | typing.SupportsIndex) -> numpy.typing.NDArray[numpy.float64]:
        ...
    def edges(self) -> tuple[numpy.typing.NDArray[numpy.uint32], numpy.typing.NDArray[numpy.uint32], typing.Any, typing.Any]:
        ...
    def ids(self) -> numpy.typing.NDArray[numpy.int64]:
        ...
    def lookup(self, arg0: typing.Any) -> numpy.typing.NDArray[numpy.int64]:
        ...
    def louvain(self, arg0: typing.SupportsFloat | typing.SupportsIndex, arg1: typing.SupportsInt | typing.SupportsIndex, arg2: typing.SupportsInt | typing.SupportsIndex, arg3: bool) -> tuple[numpy.typing.NDArray[numpy.int64], float]:
        ...
    def modularity(self, arg0: typing.Any, arg1: typing.SupportsFloat | typing.SupportsIndex, arg2: bool) -> float:
        ...
    def nearest_source(self, sources: typing.Any, max_hops: typing.SupportsInt | typing.SupportsIndex) -> tuple[numpy.typing.NDArray[numpy.int64], numpy.typing.NDArray[numpy.int64]]:
        """
        Hops from the nearest source to each node and that source's id (-1 where none is reached).
        """
    def neighbors(self, arg0: typing.SupportsInt | typing.SupportsIndex, arg1: collections.abc.Sequence[typing.SupportsInt | typing.SupportsIndex] | None) -> numpy.typing.NDArray[numpy.uint32]:
        ...
    def pagerank(self, arg0: typing.SupportsFloat | typing.SupportsIndex, arg1: typing.SupportsFloat | typing.SupportsIndex, arg2: typing.SupportsInt | typing.SupportsIndex, arg3: bool, arg4: numpy.ndarray | None, arg5: numpy.ndarray | None, arg6: numpy.ndarray | None) -> numpy.typing.NDArray[numpy.float64]:
        ...
    def pair_similarity(self, arg0: typing.Any, arg1: typing.Any, arg2: str) -> numpy.typing.NDArray[numpy.float64]:
        ...
    def sample_nodes(self, arg0: typing.SupportsInt | typing.SupportsIndex, arg1: typing.SupportsInt | typing.SupportsIndex) -> numpy.typing.NDArray[numpy.uint32]:
        ...
    def shared_neighbors(self, arg0: typing.SupportsInt | typing.SupportsIndex, arg1: typing.SupportsInt | typing.SupportsIndex, arg2: collections.abc.Sequence[typing.SupportsInt | typing.SupportsIndex] | None) -> numpy.typing.NDArray[numpy.uint32]:
        ...
    def shortest_path(self, arg0: typing.SupportsInt | typing.SupportsIndex, arg1: typing.SupportsInt | typing.SupportsIndex, arg2: bool) -> numpy.typing.NDArray[numpy.uint32]:
        ...
    def similarity(self, arg0: typing.SupportsInt | typing.SupportsIndex, arg1: str, arg2: typing.SupportsInt | typing.SupportsIndex) -> tuple[numpy.typing.NDArray[numpy.uint32], numpy.typing.NDArray[numpy.float64]]:
        ...
    def simplify(self, arg0: str) -> GraphCore:
        ...
    def strongest_path(self, arg0: typing.SupportsInt | typing.SupportsIndex, arg1: typing.SupportsInt | typing.SupportsIndex) -> tuple[numpy.typing.NDArray[numpy.uint32], float]:
        ...
    def subgraph(self, arg0: typing.Any, arg1: collections.abc.Sequence[typing.SupportsInt | typing.SupportsIndex] | None) -> GraphCore:
        ...
    def to_undirected(self) -> GraphCore:
        ...
    def topology_bytes(self) -> int:
        ...
    @property
    def directed(self) -> bool:
        ...
    @property
    def num_edges(self) -> int:
        ...
    @property
    def num_entries(self) -> int:
        ...
    @property
    def num_nodes(self) -> int:
        ...
    @property
    def typed(self) -> bool:
        ...
    @property
    def weighted(self) -> bool:
        ...
class PinyinTable:
    """
    Mandarin readings of Han characters, for duplicate search.
    """
    def __init__(self, characters: typing.Any, readings: typing.Any) -> None:
        ...
    def spells_pinyin(self, arg0: str) -> bool:
        ...
class ScopedStore:
    def __init__(self, store: Store, user: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
    def allow(self, kind: str, field: str, value: str, labels: collections.abc.Sequence[tuple[str, str]], add_value: bool) -> None:
        ...
    def audit_check(self) -> list:
        ...
    def audit_log(self, limit: typing.SupportsInt | typing.SupportsIndex = 100, about: collections.abc.Sequence[typing.SupportsInt | typing.SupportsIndex] | None = None) -> list:
        ...
    def backup(self, dest: str, progress: typing.Any = None, pages_per_step: typing.SupportsInt | typing.SupportsIndex = 1024) -> None:
        ...
    def begin(self) -> None:
        ...
    def commit(self) -> bool:
        ...
    def count(self, kind: str) -> int:
        ...
    def create_index(self, kind: str, field: str) -> bool:
        ...
    def declare_custom(self, kind: str, name: str, type: str, choices: collections.abc.Sequence[str], required: bool, index: bool) -> None:
        ...
    def describe(self, kind: str) -> dict:
        ...
    def drop_index(self, kind: str, field: str) -> bool:
        ...
    def erase_person(self, id: typing.SupportsInt | typing.SupportsIndex) -> dict:
        ...
    def export_json(self, kind: str, path: str) -> int:
        ...
    def find_phone(self, kind: str, phone: str) -> numpy.typing.NDArray[numpy.int64]:
        ...
    def import_json(self, kind: str, path: str, on_error: str = 'raise', progress: typing.Any = None, dry_run: bool = False) -> tuple:
        ...
    def in_transaction(self) -> bool:
        ...
    def indexes(self, kind: str) -> list[str]:
        ...
    def insert(self, kind: str, columns: list, on_error: str = 'raise', progress: typing.Any = None, dry_run: bool = False) -> tuple:
        ...
    def integrity_check(self) -> str:
        ...
    def kind_of(self, id: typing.SupportsInt | typing.SupportsIndex) -> str:
        ...
    def match(self, kind: str, field: str, values: list) -> tuple[numpy.typing.NDArray[numpy.int64], numpy.typing.NDArray[numpy.int64]]:
        ...
    def merge(self, kind: str, keep: typing.SupportsInt | typing.SupportsIndex, others: collections.abc.Sequence[typing.SupportsInt | typing.SupportsIndex], prefer: collections.abc.Sequence[tuple[str, typing.SupportsInt | typing.SupportsIndex]]) -> tuple[int, bool]:
        ...
    def merges(self) -> list:
        ...
    def migrate_owners(self) -> int:
        ...
    def query(self, kind: str, groups: list, order_by: list, limit: typing.SupportsInt | typing.SupportsIndex, offset: typing.SupportsInt | typing.SupportsIndex) -> numpy.typing.NDArray[numpy.int64]:
        ...
    def query_plan(self, kind: str, groups: list, order_by: list, limit: typing.SupportsInt | typing.SupportsIndex, offset: typing.SupportsInt | typing.SupportsIndex) -> str:
        ...
    def readable(self, kind: str) -> typing.Any:
        ...
    def remove(self, kind: str, id: typing.SupportsInt | typing.SupportsIndex) -> bool:
        ...
    def remove_many(self, kind: str, ids: typing.Any, cascade: bool) -> bool:
        ...
    def require_admin(self, what: str) -> None:
        """
        Raises PermissionDenied, naming `what`, unless the handle's user is an admin.
        """
    def retag(self, kind: str, ids: typing.Any, add: collections.abc.Sequence[str], remove: collections.abc.Sequence[str]) -> numpy.typing.NDArray[numpy.int64]:
        ...
    def rights(self, kind: str, id: typing.SupportsInt | typing.SupportsIndex) -> int:
        ...
    def rollback(self) -> None:
        ...
    def run_rule(self, rule: typing.SupportsInt | typing.SupportsIndex, ids: typing.Annotated[numpy.typing.ArrayLike, numpy.int64], occasions: typing.Annotated[numpy.typing.ArrayLike, numpy.int64], values: typing.Annotated[numpy.typing.ArrayLike, numpy.float64], now: typing.SupportsInt | typing.SupportsIndex, act: bool = True) -> numpy.typing.NDArray[numpy.int64]:
        ...
    def schema_version(self) -> int:
        ...
    def select(self, kind: str, ids: typing.Any = None, columns: typing.Any = None) -> list:
        ...
    def select_query(self, kind: str, groups: list, order_by: list, limit: typing.SupportsInt | typing.SupportsIndex, offset: typing.SupportsInt | typing.SupportsIndex, columns: typing.Any = None) -> list:
        ...
    def unmerge(self, merge_id: typing.SupportsInt | typing.SupportsIndex) -> bool:
        ...
    def update(self, kind: str, id: typing.SupportsInt | typing.SupportsIndex, columns: list) -> bool:
        ...
    def upsert(self, kind: str, columns: list, key: collections.abc.Sequence[str], insert_missing: bool, on_error: str = 'raise', progress: typing.Any = None, dry_run: bool = False) -> tuple:
        ...
    def vacuum(self) -> tuple[int, int]:
        ...
    @property
    def mode(self) -> str:
        ...
    @property
    def path(self) -> str:
        ...
    @property
    def role(self) -> str:
        ...
    @property
    def user(self) -> int:
        ...
class Store:
    actor: str
    def __init__(self, path: str, readonly: bool = False, allow_foreign: bool = False, create: bool = True) -> None:
        ...
    def allow(self, kind: str, field: str, value: str, labels: collections.abc.Sequence[tuple[str, str]], add_value: bool) -> None:
        ...
    def audit_check(self) -> list:
        ...
    def audit_log(self, limit: typing.SupportsInt | typing.SupportsIndex = 100, about: collections.abc.Sequence[typing.SupportsInt | typing.SupportsIndex] | None = None) -> list:
        ...
    def backup(self, dest: str, progress: typing.Any = None, pages_per_step: typing.SupportsInt | typing.SupportsIndex = 1024) -> None:
        ...
    def begin(self) -> None:
        ...
    def cached_columns(self, kind: str, fields: collections.abc.Sequence[str]) -> dict:
        """
        Columns of a kind from the column cache, read-only: 'id'; per field (values, valid or None) for whole numbers and times, values (NaN missing) for reals, (codes, labels) for text (-1 missing), (offsets, codes, labels) for tags.
        """
    def cached_ids(self, kind: str, groups: list) -> typing.Any:
        """
        The ids Store.query gives for these conditions, from cached columns; None when a condition needs the store.
        """
    def column_cache_ready(self, kind: str, fields: collections.abc.Sequence[str]) -> bool:
        """
        Whether cached_columns(kind, fields) pays off now: kept at the current data mark, or asked about at it before (ColumnCache::ready); a no is noted, so the next ask at the same mark says yes.
        """
    def column_cache_stats(self) -> dict:
        """
        What the column cache keeps (bytes), may keep (budget) and how many column reads reached the store.
        """
    def commit(self) -> bool:
        ...
    def count(self, kind: str) -> int:
        ...
    def create_index(self, kind: str, field: str) -> bool:
        ...
    def data_mark(self) -> tuple[int, str, int]:
        """
        (seq, hash, data_version): changes on every committed write by any connection (Store::data_mark).
        """
    def declare_custom(self, kind: str, name: str, type: str, choices: collections.abc.Sequence[str], required: bool, index: bool) -> None:
        ...
    def describe(self, kind: str) -> dict:
        ...
    def drop_index(self, kind: str, field: str) -> bool:
        ...
    def erase_person(self, id: typing.SupportsInt | typing.SupportsIndex) -> dict:
        ...
    def export_json(self, kind: str, path: str) -> int:
        ...
    def find_phone(self, kind: str, phone: str) -> numpy.typing.NDArray[numpy.int64]:
        ...
    def import_json(self, kind: str, path: str, on_error: str = 'raise', progress: typing.Any = None, dry_run: bool = False) -> tuple:
        ...
    def in_transaction(self) -> bool:
        ...
    def indexes(self, kind: str) -> list[str]:
        ...
    def insert(self, kind: str, columns: list, on_error: str = 'raise', progress: typing.Any = None, dry_run: bool = False) -> tuple:
        ...
    def integrity_check(self) -> str:
        ...
    def kind_of(self, id: typing.SupportsInt | typing.SupportsIndex) -> str:
        ...
    def match(self, kind: str, field: str, values: list) -> tuple[numpy.typing.NDArray[numpy.int64], numpy.typing.NDArray[numpy.int64]]:
        ...
    def merge(self, kind: str, keep: typing.SupportsInt | typing.SupportsIndex, others: collections.abc.Sequence[typing.SupportsInt | typing.SupportsIndex], prefer: collections.abc.Sequence[tuple[str, typing.SupportsInt | typing.SupportsIndex]]) -> tuple[int, bool]:
        ...
    def merges(self) -> list:
        ...
    def migrate_owners(self) -> int:
        ...
    def query(self, kind: str, groups: list, order_by: list, limit: typing.SupportsInt | typing.SupportsIndex, offset: typing.SupportsInt | typing.SupportsIndex) -> numpy.typing.NDArray[numpy.int64]:
        ...
    def query_plan(self, kind: str, groups: list, order_by: list, limit: typing.SupportsInt | typing.SupportsIndex, offset: typing.SupportsInt | typing.SupportsIndex) -> str:
        ...
    def remove(self, kind: str, id: typing.SupportsInt | typing.SupportsIndex) -> bool:
        ...
    def remove_many(self, kind: str, ids: typing.Any, cascade: bool) -> bool:
        ...
    def retag(self, kind: str, ids: typing.Any, add: collections.abc.Sequence[str], remove: collections.abc.Sequence[str]) -> numpy.typing.NDArray[numpy.int64]:
        ...
    def rollback(self) -> None:
        ...
    def run_rule(self, rule: typing.SupportsInt | typing.SupportsIndex, ids: typing.Annotated[numpy.typing.ArrayLike, numpy.int64], occasions: typing.Annotated[numpy.typing.ArrayLike, numpy.int64], values: typing.Annotated[numpy.typing.ArrayLike, numpy.float64], now: typing.SupportsInt | typing.SupportsIndex, act: bool = True) -> numpy.typing.NDArray[numpy.int64]:
        ...
    def schema_version(self) -> int:
        ...
    def select(self, kind: str, ids: typing.Any = None, columns: typing.Any = None) -> list:
        ...
    def select_query(self, kind: str, groups: list, order_by: list, limit: typing.SupportsInt | typing.SupportsIndex, offset: typing.SupportsInt | typing.SupportsIndex, columns: typing.Any = None) -> list:
        ...
    def set_column_cache_budget(self, bytes: typing.SupportsInt | typing.SupportsIndex) -> None:
        """
        Bounds the column cache's memory (bytes; 0 keeps nothing).
        """
    def unmerge(self, merge_id: typing.SupportsInt | typing.SupportsIndex) -> bool:
        ...
    def update(self, kind: str, id: typing.SupportsInt | typing.SupportsIndex, columns: list) -> bool:
        ...
    def upsert(self, kind: str, columns: list, key: collections.abc.Sequence[str], insert_missing: bool, on_error: str = 'raise', progress: typing.Any = None, dry_run: bool = False) -> tuple:
        ...
    def vacuum(self) -> tuple[int, int]:
        ...
    @property
    def foreign_objects(self) -> list[str]:
        ...
    @property
    def path(self) -> str:
        ...
    @property
    def readonly(self) -> bool:
        ...
def _sha256_hex(data: bytes) -> str:
    """
    SHA-256 of bytes as hex, the audit chain's own implementation (exposed for its tests).
    """
def access_rules() -> dict:
    """
    Each ruled kind's owner field and parents ((field, kind) pairs), as derived from the kind table.
    """
def affinity(basket: typing.Annotated[numpy.typing.ArrayLike, numpy.int64], item: typing.Annotated[numpy.typing.ArrayLike, numpy.int64], min_support: typing.SupportsFloat | typing.SupportsIndex, max_len: typing.SupportsInt | typing.SupportsIndex, min_confidence: typing.SupportsFloat | typing.SupportsIndex) -> dict:
    ...
def affinity_rules(item: typing.Annotated[numpy.typing.ArrayLike, numpy.int64], offset: typing.Annotated[numpy.typing.ArrayLike, numpy.int64], count: typing.Annotated[numpy.typing.ArrayLike, numpy.int64], baskets: typing.SupportsInt | typing.SupportsIndex, min_confidence: typing.SupportsFloat | typing.SupportsIndex) -> dict:
    ...
def aging_groups(invoice_ids: typing.Annotated[numpy.typing.ArrayLike, numpy.int64], key: typing.Any, issued: typing.Annotated[numpy.typing.ArrayLike, numpy.int64], due: typing.Annotated[numpy.typing.ArrayLike, numpy.int64], amount: typing.Annotated[numpy.typing.ArrayLike, numpy.float64], status: typing.Annotated[numpy.typing.ArrayLike, numpy.int32], status_live: collections.abc.Sequence[typing.SupportsInt | typing.SupportsIndex], pay_invoice: typing.Annotated[numpy.typing.ArrayLike, numpy.int64], paid_at: typing.Annotated[numpy.typing.ArrayLike, numpy.int64], settles: typing.Annotated[numpy.typing.ArrayLike, numpy.float64], as_of: typing.SupportsInt | typing.SupportsIndex, ids_in_order: bool = False) -> tuple[numpy.typing.NDArray[numpy.int64], numpy.ndarray[typing.Any, numpy.dtype[typing.Any]]]:
    """
    Open balances per group key and aging bucket (see crmcore/sales/reports.hpp); ids_in_order: the caller knows invoice_ids[i] is invoice_ids[0] + i (not checked).
    """
def arrow_text_codes(offsets: numpy.ndarray[typing.Any, numpy.dtype[typing.Any]], data: numpy.ndarray[typing.Any, numpy.dtype[typing.Any]], validity: typing.Any, first: typing.SupportsInt | typing.SupportsIndex, n: typing.SupportsInt | typing.SupportsIndex, allowed: collections.abc.Sequence[str], large: bool) -> numpy.typing.NDArray[numpy.int32]:
    """
    Codes of an Arrow string chunk into the allowed values (see crmcore/sales/codes.hpp).
    """
def attainment_sums(streams: list, metrics: typing.SupportsInt | typing.SupportsIndex, credit_target: typing.Annotated[numpy.typing.ArrayLike, numpy.int64], credit_owner: typing.Annotated[numpy.typing.ArrayLike, numpy.int64], credit_metric: typing.Annotated[numpy.typing.ArrayLike, numpy.int32], from_: typing.Annotated[numpy.typing.ArrayLike, numpy.int64], to: typing.Annotated[numpy.typing.ArrayLike, numpy.int64]) -> numpy.typing.NDArray[numpy.float64]:
    """
    Each target's sum of its credited owners' events in its months (see crmcore/sales/attainment.hpp).
    """
def attribute_orders(order_customer: typing.Annotated[numpy.typing.ArrayLike, numpy.int64], ordered_at: typing.Annotated[numpy.typing.ArrayLike, numpy.int64], touch_customer: typing.Annotated[numpy.typing.ArrayLike, numpy.int64], touched_at: typing.Annotated[numpy.typing.ArrayLike, numpy.int64], window: typing.SupportsInt | typing.SupportsIndex, last: bool) -> numpy.typing.NDArray[numpy.int64]:
    """
    Per order, the row of the touch it is credited to, or -1 (see crmcore/marketing/attribution.hpp).
    """
def build_info() -> dict:
    ...
def copy_store(from_: str, to: str) -> dict:
    ...
def days_late(expected: typing.Annotated[numpy.typing.ArrayLike, numpy.int64], open: typing.Annotated[numpy.typing.ArrayLike, numpy.uint8], as_of: typing.SupportsInt | typing.SupportsIndex) -> numpy.typing.NDArray[numpy.float64]:
    """
    Days past the expected close of open deals.
    """
def duplicate_reasons() -> list[str]:
    """
    The text of each reason bit, lowest first.
    """
def duplicate_score_floor() -> float:
    ...
def find_duplicates(names: typing.Any, phones: typing.Any, emails: typing.Any, pinyin: typing.Any, threshold: typing.SupportsFloat | typing.SupportsIndex, max_typos: typing.SupportsInt | typing.SupportsIndex = 2, exhaustive: bool = False) -> dict:
    ...
def first_at(deal: typing.Annotated[numpy.typing.ArrayLike, numpy.int64], at: typing.Annotated[numpy.typing.ArrayLike, numpy.int64], deals: typing.SupportsInt | typing.SupportsIndex) -> numpy.typing.NDArray[numpy.int64]:
    """
    Earliest time per deal code.
    """
def forecast_sums(group: typing.Annotated[numpy.typing.ArrayLike, numpy.int64], amount: typing.Annotated[numpy.typing.ArrayLike, numpy.float64], probability: typing.Annotated[numpy.typing.ArrayLike, numpy.float64], category: typing.Annotated[numpy.typing.ArrayLike, numpy.int8], groups: typing.SupportsInt | typing.SupportsIndex, commit: typing.SupportsFloat | typing.SupportsIndex, best_case: typing.SupportsFloat | typing.SupportsIndex) -> tuple[numpy.typing.NDArray[numpy.int64], numpy.typing.NDArray[numpy.float64], numpy.typing.NDArray[numpy.float64], numpy.typing.NDArray[numpy.float64], numpy.typing.NDArray[numpy.float64], numpy.typing.NDArray[numpy.float64]]:
    """
    Forecast sums per group code (see crmcore/sales/reports.hpp).
    """
def funnel_groups(deal_ids: typing.Annotated[numpy.typing.ArrayLike, numpy.int64], deal_key: typing.Any, deal_amount: typing.Annotated[numpy.typing.ArrayLike, numpy.float64], row_deal: typing.Annotated[numpy.typing.ArrayLike, numpy.int64], row_stage: typing.Annotated[numpy.typing.ArrayLike, numpy.int32], row_at: typing.Annotated[numpy.typing.ArrayLike, numpy.int64], stage_step: collections.abc.Sequence[typing.SupportsInt | typing.SupportsIndex], stage_category: collections.abc.Sequence[typing.SupportsInt | typing.SupportsIndex], steps: typing.SupportsInt | typing.SupportsIndex, period: typing.SupportsInt | typing.SupportsIndex, as_of: typing.SupportsInt | typing.SupportsIndex) -> dict:
    """
    Every group's funnel in one pass (see crmcore/sales/funnel.hpp).
    """
def funnel_reached(deal: typing.Annotated[numpy.typing.ArrayLike, numpy.int64], step: typing.Annotated[numpy.typing.ArrayLike, numpy.int32], deals: typing.SupportsInt | typing.SupportsIndex, steps: typing.SupportsInt | typing.SupportsIndex) -> numpy.typing.NDArray[numpy.int64]:
    """
    Deals that reached each funnel step (see crmcore/sales/funnel.hpp).
    """
def gamma_cdf(x: typing.Annotated[numpy.typing.ArrayLike, numpy.float64], shape: typing.SupportsFloat | typing.SupportsIndex, scale: typing.SupportsFloat | typing.SupportsIndex) -> numpy.typing.NDArray[numpy.float64]:
    ...
def group_stats(key: typing.Annotated[numpy.typing.ArrayLike, numpy.int64], columns: collections.abc.Sequence[typing.Annotated[numpy.typing.ArrayLike, numpy.float64]], medians: bool = False) -> dict:
    ...
def have_postgres() -> bool:
    """
    Whether this build has the PostgreSQL backend (libpq).
    """
def id_positions(ids: typing.Annotated[numpy.typing.ArrayLike, numpy.int64], values: typing.Annotated[numpy.typing.ArrayLike, numpy.int64]) -> numpy.typing.NDArray[numpy.int64]:
    """
    Positions of values among ids, -1 where absent (see crmcore/sales/codes.hpp).
    """
def kinds() -> list:
    """
    The record kinds and their fields.
    """
def month_sums(key: typing.Annotated[numpy.typing.ArrayLike, numpy.int64], month: typing.Annotated[numpy.typing.ArrayLike, numpy.int64], value: typing.Annotated[numpy.typing.ArrayLike, numpy.float64], keys: typing.SupportsInt | typing.SupportsIndex, target_key: typing.Annotated[numpy.typing.ArrayLike, numpy.int64], from_: typing.Annotated[numpy.typing.ArrayLike, numpy.int64], to: typing.Annotated[numpy.typing.ArrayLike, numpy.int64]) -> numpy.typing.NDArray[numpy.float64]:
    """
    Sums of value per target's key and months (see crmcore/sales/reports.hpp).
    """
def months(at: typing.Annotated[numpy.typing.ArrayLike, numpy.int64]) -> numpy.typing.NDArray[numpy.int64]:
    """
    Months since January 1970 of times in ns (see crmcore/sales/reports.hpp).
    """
def normalize_email(arg0: str) -> str:
    ...
def normalize_name(arg0: str) -> tuple[str, str, str]:
    ...
def normalize_phone(arg0: str) -> str:
    ...
def open_balances(invoice_ids: typing.Annotated[numpy.typing.ArrayLike, numpy.int64], issued: typing.Annotated[numpy.typing.ArrayLike, numpy.int64], due: typing.Annotated[numpy.typing.ArrayLike, numpy.int64], amount: typing.Annotated[numpy.typing.ArrayLike, numpy.float64], live: typing.Annotated[numpy.typing.ArrayLike, numpy.uint8], pay_invoice: typing.Annotated[numpy.typing.ArrayLike, numpy.int64], paid_at: typing.Annotated[numpy.typing.ArrayLike, numpy.int64], settles: typing.Annotated[numpy.typing.ArrayLike, numpy.float64], as_of: typing.SupportsInt | typing.SupportsIndex) -> tuple[numpy.typing.NDArray[numpy.int64], numpy.typing.NDArray[numpy.float64], numpy.typing.NDArray[numpy.float64], numpy.typing.NDArray[numpy.float64], numpy.typing.NDArray[numpy.int64]]:
    """
    Open invoices' positions, paid, balance, days late and bucket (see crmcore/sales/reports.hpp).
    """
def pareto_classes(value: typing.Annotated[numpy.typing.ArrayLike, numpy.float64], cutoffs: collections.abc.Sequence[typing.SupportsFloat | typing.SupportsIndex]) -> dict:
    ...
def parse_amounts(texts: list) -> tuple[numpy.typing.NDArray[numpy.float64], numpy.typing.NDArray[numpy.uint8]]:
    ...
def parse_mode(text: str) -> str:
    ...
def period_sums(key: typing.Annotated[numpy.typing.ArrayLike, numpy.int64], at: typing.Annotated[numpy.typing.ArrayLike, numpy.int64], value: typing.Annotated[numpy.typing.ArrayLike, numpy.float64], keys: typing.SupportsInt | typing.SupportsIndex, target_key: typing.Annotated[numpy.typing.ArrayLike, numpy.int64], start: typing.Annotated[numpy.typing.ArrayLike, numpy.int64], end: typing.Annotated[numpy.typing.ArrayLike, numpy.int64]) -> numpy.typing.NDArray[numpy.float64]:
    """
    Sums of value per target's key and period (see crmcore/sales/reports.hpp).
    """
def pg_bulk_load(dsn: str, table: str, names: collections.abc.Sequence[str], values: list) -> int:
    """
    Loads columns into an existing table by binary COPY (the PostgreSQL backend's bulk path);
    int64 / float64 arrays, or sequences of str or None (or NaN). Returns the number of rows.
    For tests and benchmarks of the backend; the store will use it itself.
    """
def phone_key(arg0: str) -> str:
    ...
def points_balance(member: typing.Annotated[numpy.typing.ArrayLike, numpy.int64], at: typing.Annotated[numpy.typing.ArrayLike, numpy.int64], points: typing.Annotated[numpy.typing.ArrayLike, numpy.float64], members: typing.SupportsInt | typing.SupportsIndex, as_of: typing.SupportsInt | typing.SupportsIndex) -> numpy.typing.NDArray[numpy.float64]:
    ...
def points_expiring(member: typing.Annotated[numpy.typing.ArrayLike, numpy.int64], at: typing.Annotated[numpy.typing.ArrayLike, numpy.int64], points: typing.Annotated[numpy.typing.ArrayLike, numpy.float64], expires_at: typing.Annotated[numpy.typing.ArrayLike, numpy.int64], members: typing.SupportsInt | typing.SupportsIndex, as_of: typing.SupportsInt | typing.SupportsIndex) -> numpy.typing.NDArray[numpy.float64]:
    ...
def profit_by_period(customer: typing.Annotated[numpy.typing.ArrayLike, numpy.int64], date: typing.Annotated[numpy.typing.ArrayLike, numpy.int64], amount: typing.Annotated[numpy.typing.ArrayLike, numpy.float64], cost: typing.Annotated[numpy.typing.ArrayLike, numpy.float64], freq: str, last_period: typing.SupportsInt | typing.SupportsIndex | None = None) -> dict:
    ...
def purchase_rhythm(customer: typing.Annotated[numpy.typing.ArrayLike, numpy.int64], date: typing.Annotated[numpy.typing.ArrayLike, numpy.int64], amount: typing.Annotated[numpy.typing.ArrayLike, numpy.float64] | None, as_of: typing.SupportsInt | typing.SupportsIndex | None) -> dict:
    ...
def purchase_totals(customer: typing.Annotated[numpy.typing.ArrayLike, numpy.int64], ordered_at: typing.Annotated[numpy.typing.ArrayLike, numpy.int64] | None, amount: typing.Annotated[numpy.typing.ArrayLike, numpy.float64], status: typing.Annotated[numpy.typing.ArrayLike, numpy.int32], purchase: typing.Any, candidates: typing.Any, as_of: typing.SupportsInt | typing.SupportsIndex) -> tuple[numpy.typing.NDArray[numpy.int64], numpy.typing.NDArray[numpy.float64]]:
    """
    Purchases and their total per candidate customer over order columns (see crmcore/marketing/segments.hpp).
    """
def quantile_scores(value: typing.Annotated[numpy.typing.ArrayLike, numpy.float64], bins: typing.SupportsInt | typing.SupportsIndex, higher_is_better: bool, ties: str) -> numpy.typing.NDArray[numpy.int8]:
    ...
def restore(backup: str, dest: str, progress: typing.Any = None, pages_per_step: typing.SupportsInt | typing.SupportsIndex = 1024) -> None:
    ...
def rfm(customer: typing.Annotated[numpy.typing.ArrayLike, numpy.int64], date: typing.Annotated[numpy.typing.ArrayLike, numpy.int64], amount: typing.Annotated[numpy.typing.ArrayLike, numpy.float64], as_of: typing.SupportsInt | typing.SupportsIndex | None, bins: typing.SupportsInt | typing.SupportsIndex, ties: str) -> dict:
    ...
def rhythm_risk(silence: typing.Annotated[numpy.typing.ArrayLike, numpy.float64], mean_gap: typing.Annotated[numpy.typing.ArrayLike, numpy.float64], cv_gap: typing.Annotated[numpy.typing.ArrayLike, numpy.float64], purchases: typing.Annotated[numpy.typing.ArrayLike, numpy.int64], prior_mean: typing.SupportsFloat | typing.SupportsIndex, prior_cv: typing.SupportsFloat | typing.SupportsIndex, prior_weight: typing.SupportsFloat | typing.SupportsIndex) -> numpy.typing.NDArray[numpy.float64]:
    ...
def score_lookalikes(codes: typing.Annotated[numpy.typing.ArrayLike, numpy.int64], bought: typing.Annotated[numpy.typing.ArrayLike, numpy.uint8], line_customer: typing.Annotated[numpy.typing.ArrayLike, numpy.int64], line_product: typing.Annotated[numpy.typing.ArrayLike, numpy.int64], top: typing.SupportsInt | typing.SupportsIndex) -> dict:
    """
    Look-alike votes, scores, buyer counts and top products of the customers who never bought (see crmcore/marketing/lookalikes.hpp).
    """
def segment_orders(store: typing.Any, customers: typing.Any = None, times: bool = True, amounts: bool = True) -> dict:
    """
    The orders' customer, status code (and amount, time) of the given customers, or of all, read once (see crmcore/marketing/segments.hpp).
    """
def stage_days(deal: typing.Annotated[numpy.typing.ArrayLike, numpy.int64], at: typing.Annotated[numpy.typing.ArrayLike, numpy.int64], terminal: typing.Annotated[numpy.typing.ArrayLike, numpy.uint8], deals: typing.SupportsInt | typing.SupportsIndex, as_of: typing.SupportsInt | typing.SupportsIndex) -> numpy.typing.NDArray[numpy.float64]:
    """
    Days each stage-history row lasted (see crmcore/sales/reports.hpp).
    """
def stock_balances(store: Store) -> tuple[numpy.typing.NDArray[numpy.int64], numpy.typing.NDArray[numpy.int64], numpy.typing.NDArray[numpy.int64], numpy.typing.NDArray[numpy.float64], numpy.typing.NDArray[numpy.float64], numpy.typing.NDArray[numpy.int64]]:
    """
    (product_id, location_id, period, change, shipped, moves) of the kept monthly stock balances.
    """
def stock_levels(type: typing.Annotated[numpy.typing.ArrayLike, numpy.int8], product: typing.Annotated[numpy.typing.ArrayLike, numpy.int64], location: typing.Annotated[numpy.typing.ArrayLike, numpy.int64], to_location: typing.Annotated[numpy.typing.ArrayLike, numpy.int64], quantity: typing.Annotated[numpy.typing.ArrayLike, numpy.float64], unit_cost: typing.Annotated[numpy.typing.ArrayLike, numpy.float64], at: typing.Annotated[numpy.typing.ArrayLike, numpy.int64], products: typing.SupportsInt | typing.SupportsIndex, locations: typing.SupportsInt | typing.SupportsIndex, as_of: typing.SupportsInt | typing.SupportsIndex, since: typing.SupportsInt | typing.SupportsIndex) -> tuple[numpy.typing.NDArray[numpy.float64], numpy.typing.NDArray[numpy.float64], numpy.typing.NDArray[numpy.uint8]]:
    """
    (on_hand, shipped, seen) per product * locations + location (see crmcore/stock/ledger.hpp).
    """
def stock_levels_kept(store: Store, as_of: typing.SupportsInt | typing.SupportsIndex, since: typing.SupportsInt | typing.SupportsIndex) -> tuple[numpy.typing.NDArray[numpy.int64], numpy.typing.NDArray[numpy.int64], numpy.typing.NDArray[numpy.float64], numpy.typing.NDArray[numpy.float64]]:
    """
    (product_id, location_id, on_hand, shipped) per pair that moved up to as_of, from the kept monthly balances and as_of's month of movements (see crmcore/records/store.hpp).
    """
def stock_moving_average(type: typing.Annotated[numpy.typing.ArrayLike, numpy.int8], product: typing.Annotated[numpy.typing.ArrayLike, numpy.int64], location: typing.Annotated[numpy.typing.ArrayLike, numpy.int64], to_location: typing.Annotated[numpy.typing.ArrayLike, numpy.int64], quantity: typing.Annotated[numpy.typing.ArrayLike, numpy.float64], unit_cost: typing.Annotated[numpy.typing.ArrayLike, numpy.float64], at: typing.Annotated[numpy.typing.ArrayLike, numpy.int64], products: typing.SupportsInt | typing.SupportsIndex, as_of: typing.SupportsInt | typing.SupportsIndex) -> tuple[numpy.typing.NDArray[numpy.float64], numpy.typing.NDArray[numpy.float64]]:
    """
    (on_hand, average_cost) per product (see crmcore/stock/ledger.hpp).
    """
def stock_outs(type: typing.Annotated[numpy.typing.ArrayLike, numpy.int8], product: typing.Annotated[numpy.typing.ArrayLike, numpy.int64], location: typing.Annotated[numpy.typing.ArrayLike, numpy.int64], to_location: typing.Annotated[numpy.typing.ArrayLike, numpy.int64], quantity: typing.Annotated[numpy.typing.ArrayLike, numpy.float64], unit_cost: typing.Annotated[numpy.typing.ArrayLike, numpy.float64], at: typing.Annotated[numpy.typing.ArrayLike, numpy.int64], products: typing.SupportsInt | typing.SupportsIndex, locations: typing.SupportsInt | typing.SupportsIndex, as_of: typing.SupportsInt | typing.SupportsIndex) -> tuple[numpy.typing.NDArray[numpy.int64], numpy.typing.NDArray[numpy.int64], numpy.typing.NDArray[numpy.int64], numpy.typing.NDArray[numpy.int64], numpy.typing.NDArray[numpy.float64]]:
    """
    (product, location, start, end, lowest) of each stock-out (see crmcore/stock/ledger.hpp).
    """
def stock_period(ns: typing.SupportsInt | typing.SupportsIndex) -> int:
    """
    The month of an instant (ns, UTC) as year * 12 + month - 1, as the kept balances key it.
    """
def store_mode(store: Store) -> str:
    ...
def text_codes(values: numpy.ndarray[typing.Any, numpy.dtype[typing.Any]], allowed: collections.abc.Sequence[str]) -> numpy.typing.NDArray[numpy.int32]:
    """
    Codes of a text column into the allowed values (-1: anything else).
    """
def tier_of(values: typing.Annotated[numpy.typing.ArrayLike, numpy.float64], thresholds: typing.Annotated[numpy.typing.ArrayLike, numpy.float64]) -> numpy.typing.NDArray[numpy.int32]:
    ...
def win_loss(group: typing.Annotated[numpy.typing.ArrayLike, numpy.int64], outcome: typing.Annotated[numpy.typing.ArrayLike, numpy.int8], groups: typing.SupportsInt | typing.SupportsIndex) -> tuple[numpy.typing.NDArray[numpy.int64], numpy.typing.NDArray[numpy.int64]]:
    """
    Deals won and lost per group code.
    """
MAX_CUSTOM_DEPTH: int = 64
__version__: str = '0.1.0'
