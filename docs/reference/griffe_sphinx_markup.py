"""A griffe extension for the two Sphinx conventions the docstrings use (docs build only).

- ``#:`` comments above an attribute become its docstring (``ENGINE_NAMES``, ``Editor.config``...).
- ``:class:`X```, ``:func:`~a.b.f``` and the other roles become code that links to ``X`` where
  ``X`` is on the site (an optional autoref: no warning when it is not, e.g. a private module).
- A paragraph ending in ``::`` ends in ``:``; the indented block after it is code in Markdown too.

It also leaves out how ``__init__`` computes an instance attribute (``self.x = ...``): the
attribute, its type and its ``#:`` comment are the API, the expression is not.

mkdocs.yml loads this file (mkdocstrings ``extensions:``); ``exclude_docs`` keeps it off the site.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

LITERAL_BLOCK = re.compile(r"(?<=\S)::\n(?=[ \t]*\n)")
ROLE = re.compile(r":(?:py:)?(?:class|func|meth|mod|data|attr|exc|obj|const):`(?P<target>~?[\w.]+)`")


class SphinxMarkup(griffe.Extension):
    def __init__(self) -> None:
        super().__init__()
        self._code: str | None = None
        self._lines: list[str] = []

    def on_attribute_instance(self, *, attr: griffe.Attribute, agent: Any, **kwargs: Any) -> None:
        if "instance-attribute" in attr.labels and "class-attribute" not in attr.labels:
            attr.value = None
        code = getattr(agent, "code", None)  # the module's source (static analysis only)
        if attr.docstring is not None or not attr.lineno or not isinstance(code, str):
            return
        if code is not self._code:
            self._code, self._lines = code, code.splitlines()
        lines = self._lines
        comment: list[str] = []
        index = attr.lineno - 2  # the line above the assignment
        while index >= 0 and lines[index].lstrip().startswith("#:"):
            comment.insert(0, lines[index].lstrip()[2:].strip())
            index -= 1
        if comment:
            attr.docstring = griffe.Docstring("\n".join(comment), lineno=index + 2, parent=attr)

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        _convert_roles(pkg, set())

    on_package_loaded = on_package  # griffe < 2 names the hook so; the conversion is idempotent


def _convert_roles(obj: griffe.Object, seen: set[str]) -> None:
    if obj.path in seen:
        return
    seen.add(obj.path)
    if obj.docstring is not None:
        value = ROLE.sub(lambda match: _link(obj, match["target"]), obj.docstring.value)
        obj.docstring.value = LITERAL_BLOCK.sub(":\n", value)
    for member in obj.members.values():
        if not member.is_alias:
            _convert_roles(member, seen)


def _link(obj: griffe.Object, target: str) -> str:
    shown = target.lstrip("~")
    if target.startswith("~"):
        shown = shown.rsplit(".", 1)[-1]
    identifier = target.lstrip("~")
    head, dot, rest = identifier.partition(".")
    try:
        identifier = obj.resolve(head) + dot + rest
    except (griffe.NameResolutionError, griffe.AliasResolutionError, KeyError):
        pass
    return f'<autoref identifier="{identifier}" optional><code>{shown}</code></autoref>'
