"""Which fields of an event's data are sensitive: PHI, or free text written by people.

The privacy layer encrypts exactly these per subject (crypto-shredding), so the
list is derived from the models themselves (the ``SENSITIVE`` marker that also
puts ``x-sensitive: true`` in the JSON Schema) and cannot drift from them.
A list field is listed once, by its own path, when its items are sensitive.
"""

from __future__ import annotations

import types
from collections.abc import Iterable, Iterator
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel

from ledger.catalogue.fields import is_sensitive_metadata


def sensitive_paths(model: type[BaseModel]) -> list[str]:
    """Dotted paths, relative to an instance of ``model``, of its sensitive fields."""
    paths: list[str] = []
    for name, info in model.model_fields.items():
        paths.extend(_walk(info.annotation, info.metadata, name))
    return list(dict.fromkeys(paths))


def _walk(annotation: Any, metadata: Iterable[object], path: str) -> Iterator[str]:
    if any(is_sensitive_metadata(item) for item in metadata):
        yield path
        return
    origin = get_origin(annotation)
    if origin is Annotated:
        base, *extra = get_args(annotation)
        yield from _walk(base, extra, path)
    elif origin in (Union, types.UnionType, list):
        for arg in get_args(annotation):
            yield from _walk(arg, (), path)
    elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield from (f"{path}.{sub}" for sub in sensitive_paths(annotation))
