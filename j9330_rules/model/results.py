"""A batch of results: a table in Jupyter, a readable repr, and a DataFrame on request.

:class:`Results` is what ``Editor.check_all`` returns. It is an immutable
sequence of :class:`~j9330_rules.model.Result`, one per input claim, in input
order. pandas is optional: it is imported only by :meth:`Results.to_pandas`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, overload

from j9330_rules.model import Result
from j9330_rules.model.disposition import SEVERITIES
from j9330_rules.model.tally import OUTCOMES, Tally, tally
from j9330_rules.writers.html import results_html
from j9330_rules.writers.rows import FINDING_COLUMNS, finding_rows

if TYPE_CHECKING:
    import pandas

#: The order of ``severity`` in ``to_pandas()``: worst first.
SEVERITY_ORDER = SEVERITIES

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
    def tally(self) -> Tally:
        """The counts the CLI prints: claims by outcome, findings by code and by payer."""
        return tally(self._results)

    @property
    def counts(self) -> dict[str, int]:
        """Claims, then claims by outcome (they add up): blocking, not_checked, review, warn,
        notes_only, accept."""
        by_outcome = self.tally.by_outcome
        return {"claims": len(self._results)} | {name.replace(" ", "_"): by_outcome[name] for name in OUTCOMES}

    @property
    def summary(self) -> str:
        """One line, as the CLI prints it: "12 claims: 6 blocking, 1 not checked, 2 warn, 3 notes only"."""
        return self.tally.line()

    @property
    def statistics(self) -> dict[str, list[dict[str, object]]]:
        """What ``check --statistics`` prints: findings by code (worst first) and by payer."""
        counts = self.tally
        return {
            "by_code": [{"code": c, "severity": s, "findings": n} for c, s, n in counts.codes()],
            "by_payer": [{"payer": p, "claims": c, "findings": n} for p, c, n in counts.payers()],
        }

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
                f"Showing the first {len(shown)} of {len(self._results)} claims; <code>to_pandas()</code> has them all."
            )
        return results_html(shown, heading=self.summary, note=note)

    def to_pandas(self) -> pandas.DataFrame:
        """The findings as a DataFrame: one row per finding, every claim present.

        Columns: ``claim_id``, ``payer``, ``line`` (nullable ``Int64``; ``<NA>`` for a
        claim-level finding), ``code``, ``severity``, ``carc``, ``rarc``, ``message``, ``rule_id``,
        ``source`` (``severity`` is an ordered categorical, reject < deny < review < warn < info,
        so ``frame[frame.severity <= "warn"]`` keeps what is worth a look), ``disposition`` (the claim's: accept, review, deny_lines,
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
        # Ordered worst first, so sort_values and comparisons ("severity <= 'warn'") read as people mean them.
        frame["severity"] = pd.Categorical(frame["severity"], categories=SEVERITY_ORDER, ordered=True)
        return frame


def _describe(result: Result) -> str:
    claim = result.claim_id or "(no id)"
    head = f"{claim} ({result.payer or 'no payer'}): {result.disposition}"
    if result.error is not None:
        return f"{head}, error: {result.error}"
    if not result.findings:
        return f"{head}, no findings"
    codes = list(dict.fromkeys(f.code for f in result.findings))
    return f"{head}, {len(result.findings)} finding{'s' if len(result.findings) != 1 else ''}: {', '.join(codes)}"
