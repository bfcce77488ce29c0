"""A batch of results: a table in Jupyter, a readable repr, and a DataFrame on request.

:class:`Results` is what ``Editor.check_all`` returns. It is an immutable
sequence of :class:`~j9330_rules.model.Result`, one per input claim, in input
order. pandas is optional: it is imported only by :meth:`Results.to_pandas`.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, overload

from j9330_rules.model import Result
from j9330_rules.writers.rows import FINDING_COLUMNS, finding_rows
from j9330_rules.writers.table import result_html

if TYPE_CHECKING:
    import pandas

INSTALL_PANDAS = "pip install 'j9330-rules[pandas]'"


def require_pandas(what: str) -> Any:
    """pandas, or an ImportError that says how to install it."""
    try:
        import pandas
    except ImportError as exc:
        raise ImportError(f"{what} needs pandas, an optional dependency of j9330-rules: {INSTALL_PANDAS}") from exc
    return pandas


class Results(Sequence[Result]):
    """The results of a batch of claims, one per input, in input order.

    In Jupyter it shows as an HTML table (one row per finding) under a summary line;
    ``to_pandas()`` gives the findings as a DataFrame.
    """

    #: At most this many claims are drawn by ``_repr_html_`` (use ``to_pandas`` for more).
    html_limit = 200
    #: At most this many claims are listed by ``repr``.
    repr_limit = 20

    def __init__(self, results: Iterable[Result] = ()):
        self._results: tuple[Result, ...] = tuple(results)
        for item in self._results:
            if not isinstance(item, Result):
                raise TypeError(f"Results holds Result objects, not {type(item).__name__}")

    @overload
    def __getitem__(self, index: int) -> Result: ...
    @overload
    def __getitem__(self, index: slice) -> Results: ...
    def __getitem__(self, index: int | slice) -> Result | Results:
        if isinstance(index, slice):
            return Results(self._results[index])
        return self._results[index]

    def __len__(self) -> int:
        return len(self._results)

    def __iter__(self) -> Iterator[Result]:
        return iter(self._results)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Results):
            return self._results == other._results
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    # -- counts ---------------------------------------------------------------------------

    @property
    def counts(self) -> dict[str, int]:
        """See :func:`counts`."""
        return counts(self._results)

    @property
    def summary(self) -> str:
        """One line, as the CLI prints it under its table."""
        return summary(self._results)

    @property
    def blocking(self) -> bool:
        """True when any claim has a blocking (reject or deny) finding."""
        return any(r.blocking for r in self._results)

    # -- views ----------------------------------------------------------------------------

    def __repr__(self) -> str:
        lines = [f"Results({self.summary})"]
        for result in self._results[: self.repr_limit]:
            lines.append("  " + _describe(result))
        if len(self._results) > self.repr_limit:
            lines.append(f"  ... and {len(self._results) - self.repr_limit} more")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        shown = self._results[: self.html_limit]
        note = ""
        if len(shown) < len(self._results):
            note = (
                f"<p>Showing the first {len(shown)} of {len(self._results)} claims; "
                "<code>to_pandas()</code> has them all.</p>"
            )
        summary = f"<p><strong>{html.escape(self.summary)}</strong></p>"
        return f'<div class="j9330-results">{summary}{result_html(shown)}{note}</div>'

    def to_pandas(self) -> pandas.DataFrame:
        """The findings as a DataFrame: one row per finding, every claim present.

        Columns: ``claim_id``, ``payer``, ``line`` (nullable ``Int64``; ``<NA>`` for a
        claim-level finding), ``code``, ``severity``, ``carc``, ``rarc``, ``message``, ``rule_id``,
        ``source``, ``disposition`` (the claim's: accept, review, deny_lines,
        return_to_provider or not_checked), ``line_disposition`` (the finding's line's; None
        for a claim-level finding) and ``error``; the text columns are object columns with
        None where a value is absent. A claim with no findings has one row whose ``code`` is
        None; a claim that could not be checked has one row with its ``error``.
        Needs pandas (``pip install 'j9330-rules[pandas]'``).
        """
        pd = require_pandas("Results.to_pandas()")
        rows = list(finding_rows(self._results))
        # Text columns stay object columns holding None for "absent", on pandas 2 and 3 alike
        # (pandas 3 would otherwise infer its str dtype and turn None into NaN).
        frame = pd.DataFrame(
            {column: pd.Series([row[column] for row in rows], dtype=object) for column in FINDING_COLUMNS},
            columns=list(FINDING_COLUMNS),
        )
        frame["line"] = frame["line"].astype("Int64")
        return frame


def counts(results: Iterable[Result]) -> dict[str, int]:
    """claims; clean (checked, nothing above ``info``); blocking (a reject or deny); not_checked (an error)."""
    found = {"claims": 0, "clean": 0, "blocking": 0, "not_checked": 0}
    for result in results:
        found["claims"] += 1
        found["clean"] += result.error is None and all(f.severity == "info" for f in result.findings)
        found["blocking"] += result.blocking
        found["not_checked"] += result.error is not None
    return found


def summary(results: Iterable[Result]) -> str:
    """The one summary line of a batch, for the CLI and for :class:`Results` alike."""
    c = counts(results)
    noun = "claim" if c["claims"] == 1 else "claims"
    return f"{c['claims']} {noun}: {c['clean']} clean (notes only), {c['blocking']} blocking, {c['not_checked']} not checked"


def _describe(result: Result) -> str:
    claim = result.claim_id or "(no id)"
    head = f"{claim} ({result.payer or 'no payer'}): {result.disposition}"
    if result.error is not None:
        return f"{head}, error: {result.error}"
    if not result.findings:
        return f"{head}, no findings"
    codes = list(dict.fromkeys(f.code for f in result.findings))
    return f"{head}, {len(result.findings)} finding{'s' if len(result.findings) != 1 else ''}: {', '.join(codes)}"
