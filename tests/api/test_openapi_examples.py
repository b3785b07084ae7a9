"""The OpenAPI examples are valid for the README's emitter key: none is refused for its source."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from api.openapi import README_SOURCE
from ledger.apikeys import Role
from tests.api.conftest import Keys, bearer

README = Path(__file__).parents[2] / "README.md"


def _examples(client: TestClient) -> dict[str, dict[str, Any]]:
    content = client.get("/openapi.json").json()["paths"]["/v1/events"]["post"]["requestBody"]["content"]
    return {name: example["value"] for name, example in content["application/json"]["examples"].items()}


def test_the_examples_use_the_source_of_the_readme_s_emitter_key(client: TestClient) -> None:
    (readme_source,) = set(re.findall(r"api-keys create --role emitter --source (\S+)", README.read_text()))
    assert readme_source == README_SOURCE
    assert {example["source"] for example in _examples(client).values()} == {README_SOURCE}


def test_the_readme_s_emitter_key_may_send_every_example(client: TestClient, keys: Keys) -> None:
    readme_key = bearer(keys.store.create(Role.EMITTER, source=README_SOURCE, label="readme").token)
    refused_for_source = []
    appended = 0
    for name, example in _examples(client).items():
        response = client.post("/v1/events", json={**example, "event_id": str(uuid.uuid4())}, headers=readme_key)
        appended += response.status_code == 201
        if response.status_code == 403 and "source" in response.json()["message"]:
            refused_for_source.append(name)
    assert refused_for_source == []
    assert appended >= len(_examples(client)) // 2  # control types may be the ledger's own; the rest append
