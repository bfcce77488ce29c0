"""EditorConfig: everything an Editor is built from, as one frozen, picklable value.

Worker processes and Spark executors build their Editor from the same config, so a keyword
added here reaches all of them without being listed anywhere else.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs
from attrs import define, field

__all__ = [
    "ENGINE_NAMES",
    "EditorConfig",
    "Settings",
    "find_settings_file",
    "read_settings_file",
]

ENGINE_NAMES = ("compiled", "durable")

Paths = str | Path | tuple[str | Path, ...] | None


def _paths(value: Any) -> Paths:
    """One path as given; several (a list of quarters) as a tuple, so the config stays frozen."""
    if value is None or isinstance(value, (str, Path)):
        return value
    return tuple(value)


def _overrides(value: Any) -> Any:
    if value is None or isinstance(value, (str, Path)):
        return value
    return tuple(value)


def _payer_map(value: Any) -> Any:
    from j9330_rules.plugins.payer_map import PayerMap

    return value if value is None or isinstance(value, (str, Path, PayerMap)) else PayerMap.of(value)


def _engine(_instance: Any, _attribute: Any, value: str) -> None:
    if value not in ENGINE_NAMES:
        raise ValueError(f"engine must be one of {', '.join(ENGINE_NAMES)}, not {value!r}")


@define(frozen=True, kw_only=True)
class EditorConfig:
    """How to build an Editor (docs/reference-data.md for the files, docs/engine.md for engines).

    ``plugins`` are extra plugin objects (tests, notebooks); ``entry_points=False`` skips the
    installed ones. ``overrides`` is a file or a sequence of ``Override``.
    """

    asp_file: Paths = field(default=None, converter=_paths)
    crosswalk_file: Paths = field(default=None, converter=_paths)
    mue_file: Paths = field(default=None, converter=_paths)
    fee_schedule: Paths = field(default=None, converter=_paths)
    icd10_file: Paths = field(default=None, converter=_paths)
    ndc_directory: Paths = field(default=None, converter=_paths)
    history: str | Path | None = None
    #: Payer IDs and names onto payers: a CSV or TOML file, a mapping of IDs, or a PayerMap.
    payer_map: Any = field(default=None, converter=_payer_map)
    overrides: Any = field(default=None, converter=_overrides)
    plugins: tuple[Any, ...] = field(default=(), converter=tuple)
    entry_points: bool = True
    engine: str = field(default="compiled", validator=_engine)
    #: Plugins whose specs may change payers another plugin serves (refused otherwise).
    allow_overlays: tuple[str, ...] = field(default=(), converter=tuple)

    @classmethod
    def option_names(cls) -> tuple[str, ...]:
        return tuple(attrs.fields_dict(cls))

    def evolve(self, **changes: Any) -> EditorConfig:
        return attrs.evolve(self, **changes)


# -- settings files and environment variables ---------------------------------------------------

#: The settings a file or the environment may give: the EditorConfig fields that are files or names.
SETTINGS = (
    "asp_file",
    "crosswalk_file",
    "mue_file",
    "fee_schedule",
    "icd10_file",
    "ndc_directory",
    "payer_map",
    "overrides",
    "history",
    "engine",
    "allow_overlays",
)
#: Settings that take several files (quarters, settings, years).
MANY = frozenset({"asp_file", "crosswalk_file", "mue_file", "fee_schedule", "icd10_file", "ndc_directory"})
SETTINGS_FILE = "j9330-rules.toml"


@define(frozen=True)
class Settings:
    """The settings read from one file (``path``), as EditorConfig keywords."""

    path: Path | None
    values: dict[str, Any] = field(factory=dict)


def find_settings_file(start: Path | None = None) -> Path | None:
    """The nearest ``j9330-rules.toml``, or ``pyproject.toml`` with ``[tool.j9330-rules]``,
    from ``start`` (the current directory) up, as ruff and pytest look for theirs."""
    import tomllib

    folder = (start or Path.cwd()).resolve()
    for candidate in (folder, *folder.parents):
        own = candidate / SETTINGS_FILE
        if own.is_file():
            return own
        project = candidate / "pyproject.toml"
        if project.is_file():
            try:
                table = tomllib.loads(project.read_text(encoding="utf-8")).get("tool", {})
            except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError):
                continue  # someone else's broken pyproject is not ours to report
            if "j9330-rules" in table:
                return project
    return None


def read_settings_file(path: Path) -> Settings:
    """The settings of one file; relative paths are taken from the file's own folder."""
    import tomllib

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise _error(path, f"is not valid TOML ({exc})") from None
    except OSError as exc:
        raise _error(path, f"cannot be read ({exc.strerror or exc})") from None
    if path.name == "pyproject.toml":
        data = data.get("tool", {}).get("j9330-rules", {})
    values = {}
    for key, value in data.items():
        name = key.replace("-", "_")
        if name not in SETTINGS:
            raise _error(path, f"has an unknown setting {key!r}; the settings are {', '.join(_kebab(SETTINGS))}")
        values[name] = _value(name, value, path, key)
    return Settings(path, values)


def _value(name: str, value: Any, path: Path, key: str) -> Any:
    if name == "allow_overlays":
        names = value if isinstance(value, list) else [value]
        if not all(isinstance(item, str) and item for item in names):
            raise _error(path, f"sets {key} to something other than plugin names")
        return tuple(names)
    if name == "engine":
        if value not in ENGINE_NAMES:
            raise _error(path, f"sets {key} to {value!r}; it must be one of {', '.join(ENGINE_NAMES)}")
        return value
    items = value if isinstance(value, list) else [value]
    if name not in MANY and len(items) != 1:
        raise _error(path, f"sets {key} to a list; it takes one file")
    files = []
    for item in items:
        if not isinstance(item, str) or not item:
            raise _error(path, f"sets {key} to {type(item).__name__}; it takes a file path as a string")
        file = path.parent / Path(item).expanduser()
        if name != "history" and not file.is_file():
            raise _error(path, f"sets {key} to {item}, which is not a file (paths are taken from {path.parent})")
        files.append(file)
    return tuple(files) if name in MANY else files[0]


def _kebab(names: tuple[str, ...]) -> list[str]:
    return [name.replace("_", "-") for name in names]


def _error(path: Path, problem: str):
    from j9330_rules.errors import ConfigError

    return ConfigError(f"{path} {problem}")
