"""Finding and loading plugins, and collecting what they register.

The built-in plugin (the national rules and bundled reference data) and the
installed ones (entry-point group ``j9330_rules``, the built-in payers
included) go through one plugin manager, and every hook is called through it.
One mechanism, `isolated()`, keeps a plugin that raises from ending the call
for the others and names it.
"""

from __future__ import annotations

import functools
import importlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
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


@define(frozen=True)
class Overlay:
    """A spec from one plugin that applies to payers another plugin serves: it can raise or lower
    their edits, so it is refused unless the user allows the plugin, and then recorded."""

    plugin: str
    spec: str
    payers: tuple[str, ...]

    def describe(self) -> str:
        return f"plugin {self.plugin}'s spec {self.spec} changes {', '.join(self.payers)}"


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
    #: The plugins shipped with j9330-rules (the national module and its payers' entry points).
    first_party: set[str] = field(factory=set)
    #: Specs that change payers another plugin serves, allowed by the user (see :class:`Overlay`).
    overlays: list[Overlay] = field(factory=list)
    #: The plugins whose overlays the user allows (``--allow-overlay``).
    allowed_overlays: frozenset[str] = frozenset()

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
        _register(manager, importlib.import_module(module_name), module_name)
        registry.first_party.add(module_name)
        registry.versions[module_name] = metadata.version("j9330-rules")
    if entry_points:
        _load_entry_points(manager, registry)
    for plugin in extra:
        _register(manager, plugin, _unique_name(manager, plugin))
    manager.check_pending()  # a misspelled hook fails here, not silently
    return manager, registry


# Isolation. Every hook is called through pluggy (so firstresult, tryfirst/trylast and wrapper=True
# implementations behave as pluggy documents), and each plain implementation is registered wrapped
# so that, inside an `isolated()` call, one that raises is recorded and returns None instead of
# ending the call for every plugin. Wrappers are registered as they are: they wrap the others.
_CALL: ContextVar[_Call | None] = ContextVar("j9330_hook_call", default=None)


@define
class _Call:
    """One isolated hook call: who failed, and what each plugin registered before it returned."""

    failed: list[tuple[str, BaseException]] = field(factory=list)
    pending: dict[str, list[_Change]] = field(factory=dict)
    plugin: str | None = None


@contextmanager
def isolated() -> Iterator[_Call]:
    """Run hook calls in this block with each plugin's failure recorded rather than raised."""
    call = _Call()
    token = _CALL.set(call)
    try:
        yield call
    finally:
        _CALL.reset(token)


def _register(manager: pluggy.PluginManager, plugin: Any, name: str) -> None:
    shim = _Shim(plugin)
    for attr in dir(plugin):
        opts = manager.parse_hookimpl_opts(plugin, attr) if attr.startswith("j9330_") else None
        if opts is None:
            continue
        function = getattr(plugin, attr)
        wrapper = opts.get("wrapper") or opts.get("hookwrapper")
        shim.__dict__[attr] = function if wrapper else _isolate(function, name)
    manager.register(shim, name=name)


class _Shim:
    """What the manager holds for a plugin: its hook implementations (the plain ones wrapped by
    `_isolate`, its wrappers as they are) in the instance dict, where pluggy looks; every other
    attribute is the plugin's own."""

    def __init__(self, plugin: Any) -> None:
        self.__dict__["_plugin"] = plugin

    def __getattr__(self, attr: str) -> Any:
        return getattr(self.__dict__["_plugin"], attr)

    def __dir__(self) -> list[str]:
        return sorted(set(dir(self.__dict__["_plugin"])) | set(self.__dict__))


#: Seconds one plugin's hook call may take before it is reported (logged as a warning, while it
#: runs and when it returns). A check cannot stop a hook in its own process; with workers, the
#: parent stops a worker that takes longer than ``check_many(timeout=)`` on a claim.
HOOK_BUDGET_SECONDS = 2.0


class _Watch:
    """The hook calls running now, and a daemon thread that reports those over budget while they
    run (a hung hook would otherwise block a check with nothing said)."""

    def __init__(self) -> None:
        self.running: dict[int, list[Any]] = {}  # token → [plugin, hook, started, reported]
        self.watching = False  # the thread runs in this process (a fork has none: it starts its own)
        os.register_at_fork(after_in_child=self._forked)

    def _forked(self) -> None:
        self.watching = False
        self.running.clear()

    def begin(self, plugin: str, hook: str) -> list[Any]:
        if not self.watching:
            self.watching = True
            threading.Thread(target=self._run, name="j9330-rules-hook-watch", daemon=True).start()
        entry = [plugin, hook, time.monotonic(), False]
        self.running[id(entry)] = entry
        return entry

    def end(self, entry: list[Any]) -> None:
        self.running.pop(id(entry), None)
        elapsed = time.monotonic() - entry[2]
        if elapsed > HOOK_BUDGET_SECONDS:
            log.warning("plugin %s took %.1f s in %s (budget %.1f s)", entry[0], elapsed, entry[1], HOOK_BUDGET_SECONDS)

    def _run(self) -> None:
        while True:
            time.sleep(min(1.0, HOOK_BUDGET_SECONDS / 2))
            now = time.monotonic()
            for entry in list(self.running.values()):
                if not entry[3] and now - entry[2] > HOOK_BUDGET_SECONDS:
                    entry[3] = True
                    log.warning(
                        "plugin %s has been running %s for %.1f s (budget %.1f s); the caller waits for it",
                        entry[0],
                        entry[1],
                        now - entry[2],
                        HOOK_BUDGET_SECONDS,
                    )


_WATCH = _Watch()


def _isolate(function: Callable[..., Any], plugin: str) -> Callable[..., Any]:
    @functools.wraps(function)  # keeps the signature pluggy reads and the hookimpl marker
    def isolated_impl(*args: Any, **kwargs: Any) -> Any:
        call = _CALL.get()
        if call is None:
            return function(*args, **kwargs)
        outer, call.plugin = call.plugin, plugin
        watched = _WATCH.begin(plugin, hook)
        try:
            return function(*args, **kwargs)
        except SpecError:
            raise  # an invalid spec is the caller's to handle: an editor must never half-run
        except _Abandon:
            return None  # already recorded
        except (Exception, SystemExit) as exc:  # SystemExit too: a plugin may not end the run
            call.failed.append((plugin, exc))
            call.pending.pop(plugin, None)  # a plugin that raises half-way leaves nothing behind
            return None
        finally:
            _WATCH.end(watched)
            call.plugin = outer

    hook = function.__name__

    def checked_impl(*args: Any, **kwargs: Any) -> Any:
        result = isolated_impl(*args, **kwargs)
        call = _CALL.get()
        if result is not None and call is not None and not isinstance(result, expected):
            # a wrong type would kill every writer later: the plugin failed, the next one is asked
            call.failed.append((plugin, TypeError(f"returned {type(result).__name__}, not {expected.__name__}")))
            return None
        return result

    expected = RESULT_TYPES.get(function.__name__)
    return isolated_impl if expected is None else functools.wraps(function)(checked_impl)


def _result_types() -> dict[str, type]:
    from j9330_rules.model import Payment

    return {"j9330_benchmark": Payment}


#: What a hook must return when it returns anything (KeyboardInterrupt alone is not isolated:
#: it stops the run, and the caller writes the results so far).
RESULT_TYPES = _result_types()


def _unique_name(manager: pluggy.PluginManager, plugin: Any) -> str:
    """A module's name, else the class name; numbered when two objects share one."""
    base = getattr(plugin, "__name__", None) or type(plugin).__name__
    name, number = base, 1
    while manager.has_plugin(name):
        number += 1
        name = f"{base}#{number}"
    return name


#: The distribution whose entry points are the built-in plugins.
FIRST_PARTY = "j9330-rules"


def load_order(entry_points: Iterable[Any]) -> list[Any]:
    """The built-in plugins first, then the others by name: a payer registered twice keeps the
    first-party plugin's and blames the newcomer, whatever the newcomer's name sorts as."""

    return sorted(entry_points, key=lambda ep: (_third_party(ep), ep.name))


def _third_party(entry_point: Any) -> bool:
    dist = getattr(entry_point, "dist", None)
    return (getattr(dist, "name", None) or "").lower().replace("_", "-") != FIRST_PARTY


def _load_entry_points(manager: pluggy.PluginManager, registry: Registry) -> None:
    wanted = os.environ.get(LOAD_PLUGINS_ENV)
    allowed = None if wanted is None else {name.strip() for name in wanted.split(",") if name.strip()}
    for entry_point in load_order(metadata.entry_points(group=ENTRY_POINT_GROUP)):
        if allowed is not None and entry_point.name not in allowed:
            continue
        if manager.get_plugin(entry_point.name) is not None:
            continue
        version = entry_point.dist.version if entry_point.dist else None
        registry.versions[entry_point.name] = version
        if not _third_party(entry_point):
            registry.first_party.add(entry_point.name)
        try:
            plugin = entry_point.load()
        except Exception as exc:
            log.error("plugin %s failed to import: %s", entry_point.name, type(exc).__name__)
            registry.failures.append(PluginFailure(entry_point.name, LOADING, type(exc).__name__))
            continue
        _register(manager, plugin, entry_point.name)


def collect(
    manager: pluggy.PluginManager,
    registry: Registry,
    *,
    strict: bool = True,
    allow_overlays: Iterable[str] = (),
) -> Registry:
    """Call the registration hooks through pluggy, isolating each plugin's failure.

    A plugin's registrations are checked as it makes them and applied only when its hook
    returns, in registration order (built-ins first). An invalid spec raises ``SpecError``
    (an editor must never half-run); with ``strict=False``, as ``j9330-rules plugins`` lists
    what is installed, it is recorded as that plugin's failure instead.
    """
    registry.allowed_overlays = frozenset(allow_overlays)
    stages = (
        ("j9330_register_payers", "registering payers", _payer),
        ("j9330_register_rulesets", "registering rulesets", _ruleset),
        ("j9330_register_reference_data", "registering reference data", _reference),
    )
    for hook_name, stage, prepare in stages:
        caller = getattr(manager.hook, hook_name)
        with isolated() as call:

            def register(*args: Any, _prepare: Any = prepare, _call: _Call = call, **kwargs: Any) -> None:
                plugin = _call.plugin or "?"
                try:
                    apply = _prepare(registry, plugin, *args, **kwargs)
                except SpecError as invalid:
                    if strict:
                        raise
                    _call.failed.append((plugin, invalid))
                    _call.pending.pop(plugin, None)
                    raise _Abandon from None
                _call.pending.setdefault(plugin, []).append(apply)

            caller(register=register)
        failures = list(call.failed)
        failed = {plugin for plugin, _error in failures}
        for impl in caller.get_hookimpls():  # registration order: built-ins first
            plugin = impl.plugin_name
            if plugin in failed:
                continue
            changes = call.pending.get(plugin, [])
            try:
                for change in changes:
                    change.check()  # e.g. a payer another plugin already registered
            except Exception as error:
                failures.append((plugin, error))
                continue
            for change in changes:
                change.apply()
        for plugin, error in failures:
            served = frozenset(n for n, owner in registry.payer_plugins.items() if owner == plugin)
            if isinstance(error, OverlayRefused):  # only its own payers miss a spec: not everyone's
                registry.failures.append(PluginFailure(plugin, stage, str(error), served))
                log.error("plugin %s: %s", plugin, error)
                continue
            log.error("plugin %s failed while %s: %s", plugin, stage, type(error).__name__)
            text = str(error) if isinstance(error, SpecError) else f"{type(error).__name__}: {error}"
            registry.failures.append(PluginFailure(plugin, stage, text, served or None))
    return registry


class _Abandon(Exception):
    """Ends a plugin's registration after its invalid spec was recorded (``strict=False``)."""


@define(frozen=True)
class _Change:
    """One registration, applied once its plugin's hook has returned and ``check`` has passed."""

    apply: Callable[[], None]
    check: Callable[[], None] = lambda: None


def _payer(registry: Registry, plugin: str, payer: Payer) -> _Change:
    if not isinstance(payer, Payer):
        raise TypeError("register() takes a j9330_rules.Payer")

    def check() -> None:
        owner = registry.payer_plugins.get(payer.name)
        if owner is not None and owner != plugin:
            raise ValueError(f"payer {payer.name} is already registered by plugin {owner}")

    def apply() -> None:
        registry.payers[payer.name] = payer
        registry.payer_plugins[payer.name] = plugin

    return _Change(apply, check)


def _validate_reference(name: str, value: Any) -> None:
    """The bundled items the arithmetic reads, checked when registered: a plugin's bad value
    fails that plugin, instead of every claim (kit_mg=0) or silently (kit_mg=-25)."""
    if name == "kit_mg" and (isinstance(value, bool) or not isinstance(value, int) or value <= 0):
        raise ValueError(f"kit_mg must be a positive whole number of mg, not {value!r}")
    if name == "temsirolimus_ndcs" and (
        isinstance(value, str) or not all(isinstance(n, str) and len(n) == 11 and n.isdigit() for n in value)
    ):
        raise ValueError("temsirolimus_ndcs must be a list of 11-digit NDCs (5-4-2, no hyphens)")


def _ruleset(registry: Registry, plugin: str, path: Any) -> _Change:
    spec = load_spec(path)
    overlay = None
    if plugin not in registry.first_party:
        others = sorted(registry.payers) if spec.general else spec.applies_to
        payers = tuple(p for p in others if registry.payer_plugins.get(p, plugin) != plugin)
        overlay = Overlay(plugin, spec.name, payers) if payers else None

    def check() -> None:
        if overlay is not None and plugin not in registry.allowed_overlays:
            raise OverlayRefused(
                f"{overlay.describe()}, which another plugin serves: refused; allow it with "
                f"--allow-overlay {plugin} (allow-overlay in the settings, Editor(allow_overlays=...))"
            )

    def apply() -> None:
        registry.specs.append(spec)
        if overlay is not None:
            registry.overlays.append(overlay)

    return _Change(apply, check)


class OverlayRefused(ValueError):
    """A plugin's spec would change another plugin's payers, and the user has not allowed it."""


def _reference(registry: Registry, plugin: str, name: str, value: Any, *, source: str) -> _Change:
    _validate_reference(name, value)
    item = ReferenceItem(name, value, source, plugin)
    return _Change(lambda: registry.reference.__setitem__(name, item))
