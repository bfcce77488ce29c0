"""What the service is built from: the Editor's config and the service's own settings.

``j9330-rules serve`` resolves both once and hands them to every worker process in one
environment variable (:data:`HANDOVER`), as JSON: workers are fresh interpreters (uvicorn
spawns them), so they cannot be given Python objects. Started without it (``uvicorn --factory
j9330_rules.service.app:create_app``), a worker resolves the same settings itself: the
``J9330_RULES_*`` variables first, then the nearest settings file (docs/cli.md).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import attrs
from attrs import define, field

from j9330_rules.config import MANY, SETTINGS, EditorConfig, find_settings_file, read_settings_file
from j9330_rules.errors import ConfigError

#: The environment variable ``serve`` passes the resolved settings to its workers in.
HANDOVER = "J9330_RULES_SERVICE_HANDOVER"
#: Bearer tokens, separated by commas or whitespace; or a file of them, one a line.
KEYS_ENV = "J9330_RULES_API_KEYS"
KEYS_FILE_ENV = "J9330_RULES_API_KEYS_FILE"

MiB = 1024 * 1024
#: The CLI's variable where it is not J9330_RULES_<SETTING> (cli.py's options).
ENV_NAMES = {"allow_overlays": "J9330_RULES_ALLOW_OVERLAY"}


def _positive(_instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    if value <= 0:
        raise ValueError(f"{attribute.name} must be above 0")


@define(frozen=True, kw_only=True)
class ServiceSettings:
    """The service's own settings (the CLI's ``serve`` options; docs/service.md)."""

    host: str = "127.0.0.1"
    port: int = 8330
    workers: int = field(default=1, validator=_positive)
    #: A file of bearer tokens, one a line (``#`` starts a comment); None: see KEYS_ENV.
    api_keys_file: str | None = None
    #: The largest request body, in bytes: more is refused with 413.
    max_body_bytes: int = field(default=16 * MiB, validator=_positive)
    #: The most claims one batch may hold: more is refused with 413.
    max_batch_claims: int = field(default=10_000, validator=_positive)
    #: Seconds for one request: reading its body (408 after), checking a claim (504 after); a
    #: batch past it answers its remaining lines with error results.
    timeout: float = field(default=30.0, validator=_positive)
    #: Seconds an idle keep-alive connection is kept open.
    keep_alive: float = field(default=5.0, validator=_positive)

    def to_json(self) -> dict[str, Any]:
        return attrs.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ServiceSettings:
        return cls(**data)


def config_to_json(config: EditorConfig) -> dict[str, Any]:
    """The settings of an EditorConfig (files and the engine) as JSON; plugin objects cannot cross."""
    data: dict[str, Any] = {}
    for name in SETTINGS:
        value = getattr(config, name)
        if value is None:
            continue
        if isinstance(value, tuple):
            data[name] = [str(item) for item in value]
        elif isinstance(value, (str, Path)):
            data[name] = str(value)
        elif name == "engine":
            data[name] = value
        else:
            raise ConfigError(f"the service takes {name} as a file, not a {type(value).__name__}")
    return data


def config_from_json(data: dict[str, Any]) -> EditorConfig:
    return EditorConfig(**{name: tuple(v) if isinstance(v, list) else v for name, v in data.items()})


def handover(config: EditorConfig, settings: ServiceSettings) -> str:
    return json.dumps({"config": config_to_json(config), "service": settings.to_json()})


def resolve(environ: dict[str, str] | None = None) -> tuple[EditorConfig, ServiceSettings]:
    """The worker's config and settings: the handover from ``serve``, or as the CLI resolves them."""
    environ = os.environ if environ is None else environ
    text = environ.get(HANDOVER)
    if text:
        data = json.loads(text)
        return config_from_json(data["config"]), ServiceSettings.from_json(data["service"])
    return config_from_environment(environ), ServiceSettings(api_keys_file=environ.get(KEYS_FILE_ENV) or None)


def config_from_environment(environ: dict[str, str]) -> EditorConfig:
    """``J9330_RULES_<SETTING>`` over the settings file (``J9330_RULES_CONFIG`` or the nearest)."""
    values: dict[str, Any] = {}
    named = environ.get("J9330_RULES_CONFIG")
    path = Path(named) if named else find_settings_file()
    if path is not None:
        values.update(read_settings_file(path).values)
    for name in SETTINGS:
        text = environ.get(ENV_NAMES.get(name, f"J9330_RULES_{name.upper()}"))
        if not text:
            continue
        # as click reads a multiple option from the environment: os.pathsep between files,
        # whitespace between names
        if name in MANY:
            values[name] = tuple(text.split(os.pathsep))
        elif name == "allow_overlays":
            values[name] = tuple(text.split())
        else:
            values[name] = text
    return EditorConfig(**values)
