"""The routes' dependencies, as ``Annotated`` aliases: settings, the open store, the caller's key.

They are ``async def`` although they do not await: FastAPI runs a plain ``def``
dependency in the thread pool, a thread hop per dependency per request.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from api.auth import authenticate, require
from api.runtime import Runtime, Store
from api.settings import Settings
from ledger.apikeys import ApiKey, Role


async def get_app_settings(request: Request) -> Settings:
    """The settings the app was built with."""
    settings: Settings = request.app.state.settings
    return settings


async def get_runtime(request: Request) -> Runtime:
    """The app's runtime (set by the lifespan)."""
    runtime: Runtime = request.app.state.runtime
    return runtime


async def get_store(runtime: Annotated[Runtime, Depends(get_runtime)]) -> Store:
    """The open store, or StoreUnavailable (503)."""
    return runtime.store()


SettingsDep = Annotated[Settings, Depends(get_app_settings)]
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
StoreDep = Annotated[Store, Depends(get_store)]

Caller = Annotated[ApiKey, Depends(authenticate)]
EmitterKey = Annotated[ApiKey, Depends(require(Role.EMITTER))]
AuditorKey = Annotated[ApiKey, Depends(require(Role.AUDITOR))]
EventReaderKey = Annotated[ApiKey, Depends(require(Role.AUDITOR, Role.EMITTER))]
ReaderKey = Annotated[ApiKey, Depends(require(Role.READER, Role.AUDITOR))]
