"""docs/api.md's route table names every route the app serves, and no route it does not."""

from __future__ import annotations

import re
from pathlib import Path

from api.app import create_app
from api.settings import Settings

API_MD = Path(__file__).parents[2] / "docs" / "api.md"
_ROW = re.compile(r"^\| `(GET|POST|PUT|PATCH|DELETE) (/[^`?]*)[^`]*` \|")


def _documented() -> set[tuple[str, str]]:
    """(method, path) of each row of the table under "## Routes"."""
    section = API_MD.read_text("utf-8").split("\n## Routes\n", 1)[1].split("\n## ", 1)[0]
    return {(m.group(1), m.group(2)) for line in section.splitlines() if (m := _ROW.match(line))}


def _served() -> set[tuple[str, str]]:
    paths = create_app(Settings(database_url="sqlite:///unused.sqlite3")).openapi()["paths"]
    return {(method.upper(), path) for path, operations in paths.items() for method in operations}


def test_every_route_of_the_app_is_in_the_route_table() -> None:
    served = _served()
    assert len(served) >= 22
    assert sorted(served - _documented()) == []


def test_the_route_table_names_no_route_the_app_does_not_serve() -> None:
    assert sorted(_documented() - _served()) == []
