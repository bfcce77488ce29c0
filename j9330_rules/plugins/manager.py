"""Finding and loading plugins, and collecting what they register.

The built-in plugin (the national rules and bundled reference data) and the
installed ones (entry-point group ``j9330_rules``, the built-in payers
included) go through one plugin manager. Every hook implementation is called
on its own so that one failing plugin is isolated and named.
"""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Callable, Iterable
from importlib import metadata
from typing import Any

import pluggy
from attrs import define, field

from j9330_rules.errors import SpecError
from j9330_rules.plugins import hookspecs
from j9330_rules.plugins.payer import Payer
from j9330_rules.refdata.reference import ReferenceItem
from j9330_rules.rules.specs import Spec, load_spec

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = hookspecs.PROJECT
DEFAULT_PLUGINS = ("j9330_rules.plugins.national",)
# Comma-separated entry-point names to load; unset loads all (as datasette's DATASETTE_LOAD_PLUGINS).
LOAD_PLUGINS_ENV = "J9330_RULES_LOAD_PLUGINS"
LOADING = "loading"


@define(frozen=True)
class PluginInfo:
    name: str
    version: str | None
    hooks: tuple[str, ...]


@define(frozen=True)
class PluginFailure:
    """A plugin raised; ``payers`` is who it served, or None when unknown (all)."""

    plugin: str
    stage: str
    error: str
    payers: frozenset[str] | None = None

    def concerns(self, payer: str) -> bool:
        return self.payers is None or payer in self.payers


@define
class Registry:
    """Everything the plugins registered, by plugin, with their failures."""

    manager: pluggy.PluginManager
    payers: dict[str, Payer] = field(factory=dict)
    payer_plugins: dict[str, str] = field(factory=dict)
    specs: list[Spec] = field(factory=list)
    reference: dict[str, ReferenceItem] = field(factory=dict)
    failures: list[PluginFailure] = field(factory=list)
    versions: dict[str, str | None] = field(factory=dict)

    def plugins(self) -> list[PluginInfo]:
        infos = []
        for name, plugin in self.manager.list_name_plugin():
            hooks = tuple(sorted(caller.name for caller in self.manager.get_hookcallers(plugin) or ()))
            infos.append(PluginInfo(name, self.versions.get(name), hooks))
        infos.extend(PluginInfo(f.plugin, self.versions.get(f.plugin), ()) for f in self.failures if f.stage == LOADING)
        return infos


def plugin_manager(extra: Iterable[Any] = (), *, entry_points: bool = True) -> tuple[pluggy.PluginManager, Registry]:
    manager = pluggy.PluginManager(hookspecs.PROJECT)
    manager.add_hookspecs(hookspecs)
    registry = Registry(manager)
    for module_name in DEFAULT_PLUGINS:
        manager.register(importlib.import_module(module_name), name=module_name)
        registry.versions[module_name] = metadata.version("j9330-rules")
    if entry_points:
        _load_entry_points(manager, registry)
    for plugin in extra:
        manager.register(plugin, name=_unique_name(manager, plugin))
    manager.check_pending()  # a misspelled hook fails here, not silently
    return manager, registry


def _unique_name(manager: pluggy.PluginManager, plugin: Any) -> str:
    """A module's name, else the class name; numbered when two objects share one."""
    base = getattr(plugin, "__name__", None) or type(plugin).__name__
    name, number = base, 1
    while manager.has_plugin(name):
        number += 1
        name = f"{base}#{number}"
    return name


def _load_entry_points(manager: pluggy.PluginManager, registry: Registry) -> None:
    wanted = os.environ.get(LOAD_PLUGINS_ENV)
    allowed = None if wanted is None else {name.strip() for name in wanted.split(",") if name.strip()}
    for entry_point in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name):
        if allowed is not None and entry_point.name not in allowed:
            continue
        if manager.get_plugin(entry_point.name) is not None:
            continue
        version = entry_point.dist.version if entry_point.dist else None
        registry.versions[entry_point.name] = version
        try:
            plugin = entry_point.load()
        except Exception as exc:
            log.error("plugin %s failed to import: %s", entry_point.name, type(exc).__name__)
            registry.failures.append(PluginFailure(entry_point.name, LOADING, type(exc).__name__))
            continue
        manager.register(plugin, name=entry_point.name)


def collect(manager: pluggy.PluginManager, registry: Registry) -> Registry:
    """Call the registration hooks plugin by plugin, isolating failures.

    A plugin's registrations are checked as it makes them and applied only
    when its hook returns: a plugin that raises half-way leaves nothing behind.
    """
    _each(manager.hook.j9330_register_payers, "registering payers", _payer, registry)
    _each(manager.hook.j9330_register_rulesets, "registering rulesets", _ruleset, registry)
    _each(manager.hook.j9330_register_reference_data, "registering reference data", _reference, registry)
    return registry


Apply = Callable[[], None]


def _payer(registry: Registry, plugin: str, payer: Payer) -> Apply:
    if not isinstance(payer, Payer):
        raise TypeError("register() takes a j9330_rules.Payer")
    owner = registry.payer_plugins.get(payer.name)
    if owner is not None and owner != plugin:
        raise ValueError(f"payer {payer.name} is already registered by plugin {owner}")

    def apply() -> None:
        registry.payers[payer.name] = payer
        registry.payer_plugins[payer.name] = plugin

    return apply


def _ruleset(registry: Registry, plugin: str, path: Any) -> Apply:
    spec = load_spec(path)
    return lambda: registry.specs.append(spec)


def _reference(registry: Registry, plugin: str, name: str, value: Any, *, source: str) -> Apply:
    item = ReferenceItem(name, value, source, plugin)
    return lambda: registry.reference.__setitem__(name, item)


def _each(caller: Any, stage: str, prepare: Callable[..., Apply], registry: Registry) -> None:
    # get_hookimpls() is in registration order: built-ins first, then installed plugins by name.
    for impl in caller.get_hookimpls():
        plugin = impl.plugin_name
        pending: list[Apply] = []
        try:
            impl.function(lambda *args, **kwargs: pending.append(prepare(registry, plugin, *args, **kwargs)))  # noqa: B023 (called within this iteration)
        except SpecError:
            raise  # an invalid spec stops the editor: it must never half-run
        except Exception as exc:
            served = frozenset(n for n, owner in registry.payer_plugins.items() if owner == plugin)
            log.error("plugin %s failed while %s: %s", plugin, stage, type(exc).__name__)
            registry.failures.append(PluginFailure(plugin, stage, f"{type(exc).__name__}: {exc}", served or None))
            continue
        for apply in pending:
            apply()


def call_each(caller: Any, **kwargs: Any) -> Iterable[tuple[str, Any, BaseException | None]]:
    """Call one hook's implementations one by one: (plugin, result, error) each."""
    for impl in reversed(caller.get_hookimpls()):  # pluggy's own order: last registered first
        try:
            yield impl.plugin_name, impl.function(*(kwargs[name] for name in impl.argnames)), None
        except Exception as exc:
            yield impl.plugin_name, None, exc
