"""Who may send CDS Hooks feedback: registered clients, each authenticated by a JWT signed with its own key.

The registry is a JSON file (``Settings.cds_clients_file``, ``$LEDGER_CDS_CLIENTS``)::

    {"base_url": "https://ledger.example.org",            (optional: else the request's own)
     "services": {"sepsis-watch": {"source": "ehr.epic-prod"}},
     "clients": [{"name": "epic-prod", "iss": "https://fhir-ehr.example.com/",
                  "source": "ehr.epic-prod", "jwks": {"keys": [...]}}]}

Each client's issuer is bound to an emitter source; a client may send feedback
only for a service of its own source. The JWT is checked as CDS Hooks 2.0
("Trusting CDS Clients") prescribes, with PyJWT: the header's ``kid`` names a
key of the issuer's JWKS, the algorithm is asymmetric (never ``none`` or HMAC),
``aud`` is the endpoint's URL, ``exp``, ``iat`` and ``jti`` are present and the
token unexpired. Each refusal is a CdsAuthError naming the claim at fault.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

import jwt
import orjson
from jwt import PyJWKSet

ASYMMETRIC: Final = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
REQUIRED_CLAIMS: Final = ["iss", "aud", "exp", "iat", "jti"]


class CdsAuthError(Exception):
    """The request is not from a registered client allowed here; ``status`` 401 or 403, the message names the claim."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        super().__init__(message)


class RegistryError(Exception):
    """The registry file cannot be read or is malformed (an operator's error: the message names the field)."""


@dataclass(frozen=True)
class Client:
    """A registered CDS client: its issuer, the source it records under, its public keys."""

    name: str
    iss: str
    source: str
    jwks: PyJWKSet


@dataclass(frozen=True)
class Registry:
    """The registered clients (by issuer) and services (their source)."""

    clients: Mapping[str, Client]
    services: Mapping[str, str]
    base_url: str | None = None

    def audiences(self, service_id: str, *, request_base: str) -> list[str]:
        """The ``aud`` values a feedback JWT for this service may carry: the feedback URL or the service's."""
        base = (self.base_url or request_base).rstrip("/")
        return [f"{base}/cds-services/{service_id}/feedback", f"{base}/cds-services/{service_id}"]


EMPTY: Final = Registry(clients={}, services={})


def parse_registry(raw: object) -> Registry:
    """A registry from its parsed JSON; RegistryError naming the field at fault."""
    if not isinstance(raw, dict):
        raise RegistryError("the CDS clients file must hold a JSON object")
    services: dict[str, str] = {}
    for service_id, spec in (raw.get("services") or {}).items():
        if not isinstance(spec, dict) or not isinstance(spec.get("source"), str):
            raise RegistryError(f"services.{service_id}.source: required")
        services[str(service_id)] = spec["source"]
    clients: dict[str, Client] = {}
    for index, spec in enumerate(raw.get("clients") or []):
        clients[_text(spec, "iss", index)] = _client(spec, index)
    base = raw.get("base_url")
    return Registry(clients=clients, services=services, base_url=str(base) if base else None)


def _text(spec: Any, name: str, index: int) -> str:
    value = spec.get(name) if isinstance(spec, dict) else None
    if not isinstance(value, str) or not value:
        raise RegistryError(f"clients[{index}].{name}: required")
    return value


def _client(spec: dict[str, Any], index: int) -> Client:
    try:
        keys = PyJWKSet.from_dict(spec.get("jwks") or {})
    except jwt.PyJWTError as exc:
        raise RegistryError(f"clients[{index}].jwks: not a usable JWK Set") from exc
    name = spec.get("name") or _text(spec, "iss", index)
    return Client(name=str(name), iss=_text(spec, "iss", index), source=_text(spec, "source", index), jwks=keys)


def load_registry(path: str | None) -> Registry:
    """The registry in the file at ``path`` (read again when the file changes); EMPTY without one."""
    if path is None:
        return EMPTY
    try:
        stat = os.stat(path)
    except OSError as exc:
        raise RegistryError("the CDS clients file cannot be read") from exc
    return _load(path, stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=4)
def _load(path: str, mtime_ns: int, size: int) -> Registry:
    try:
        return parse_registry(orjson.loads(Path(path).read_bytes()))
    except (OSError, orjson.JSONDecodeError) as exc:
        raise RegistryError("the CDS clients file cannot be read as JSON") from exc


def authenticate(token: str, *, registry: Registry, audiences: Sequence[str]) -> Client:
    """The client whose key signed ``token`` for one of ``audiences``; CdsAuthError (401) naming the claim if not."""
    try:
        header = jwt.get_unverified_header(token)
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise CdsAuthError(401, "token: not a JWT") from None
    alg, kid, iss = header.get("alg"), header.get("kid"), claims.get("iss")
    if alg not in ASYMMETRIC:
        raise CdsAuthError(401, "alg: must be an asymmetric signature algorithm (CDS Hooks forbids none and HMAC)")
    client = registry.clients.get(iss) if isinstance(iss, str) else None
    if client is None:
        raise CdsAuthError(401, "iss: not a registered CDS client")
    try:
        key = client.jwks[str(kid)]
    except KeyError:
        raise CdsAuthError(401, "kid: no key of the issuer's JWK Set has this kid") from None
    _verify(token, key.key, alg=str(alg), iss=client.iss, audiences=audiences)
    return client


def _verify(token: str, key: Any, *, alg: str, iss: str, audiences: Sequence[str]) -> None:
    options: Any = {"require": REQUIRED_CLAIMS}
    try:
        jwt.decode(token, key, algorithms=[alg], audience=list(audiences), issuer=iss, options=options)
    except jwt.ExpiredSignatureError:
        raise CdsAuthError(401, "exp: the token has expired") from None
    except jwt.InvalidSignatureError:
        raise CdsAuthError(401, "signature: not made by the issuer's registered key") from None
    except jwt.InvalidAudienceError:
        raise CdsAuthError(401, "aud: not this feedback endpoint's URL") from None
    except jwt.MissingRequiredClaimError as exc:
        raise CdsAuthError(401, f"{exc.claim}: required") from None
    except jwt.ImmatureSignatureError:
        raise CdsAuthError(401, "iat: issued in the future") from None
    except jwt.PyJWTError:
        raise CdsAuthError(401, "token: not valid") from None


def authorize(client: Client, *, registry: Registry, service_id: str) -> str:
    """The source feedback for ``service_id`` is recorded under; CdsAuthError 403 if the client's source is another."""
    source = registry.services.get(service_id)
    if source is None:
        raise CdsAuthError(404, "service_id: no such CDS service is registered")
    if client.source != source:
        raise CdsAuthError(403, "iss: this issuer is bound to another source than the service's")
    return source
