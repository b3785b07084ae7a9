"""Every row of every view table, in a stable order, to compare views row for row."""

from __future__ import annotations

from typing import Any

from projections.schema import TABLES, column_kinds
from projections.views import Views

Dump = dict[str, list[tuple[Any, ...]]]


def dump(views: Views, *, without: tuple[str, ...] = ()) -> Dump:
    """{table: sorted rows}; columns named in ``without`` are left out (e.g. recorded_us across stores)."""
    result: Dump = {}
    for key in TABLES:
        columns = [c for c in column_kinds(key) if c not in without]
        rows = views.db.select("SELECT " + ", ".join(columns) + " FROM {" + key + "}")
        result[key] = sorted(rows, key=lambda row: tuple("" if v is None else str(v) for v in row))
    return result


def strip(value: Any, *, keys: tuple[str, ...] = ("recorded_at",)) -> Any:
    """A JSON value without the given keys anywhere (the ledger's own clock differs between stores)."""
    if isinstance(value, dict):
        return {k: strip(v, keys=keys) for k, v in value.items() if k not in keys}
    if isinstance(value, list):
        return [strip(v, keys=keys) for v in value]
    return value
