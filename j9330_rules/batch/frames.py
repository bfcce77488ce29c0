"""pandas: check the claim lines of a DataFrame, get the findings as a DataFrame.

The DataFrame holds one row per claim line in the flat layout of
:mod:`j9330_rules.readers.flat` (``flat.COLUMNS``; missing columns are absent values,
unknown columns ride along on the claim). Rows are grouped into claims by
``claim_id`` in order of first appearance, so a claim's rows need not be
adjacent; within a claim, lines keep their row order. pandas is optional and imported only when :func:`check_frame` runs.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from j9330_rules.model.results import Results, require_pandas
from j9330_rules.readers.flat import claims_from_rows

if TYPE_CHECKING:
    import pandas

    from j9330_rules.editor import Editor

CLAIM_ID = "claim_id"


def check_frame(
    df: pandas.DataFrame, editor: Editor | None = None, *, as_of: dt.date | None = None
) -> pandas.DataFrame:
    """Check the claims whose lines are the rows of ``df``; the findings as a DataFrame.

    ``df`` is in the flat claim-line layout (``j9330_rules.readers.flat.COLUMNS``); the rows of a
    claim are those with its ``claim_id``, wherever they are (kept in row order), and claims
    keep the order in which their ids first appear. A row without a ``claim_id`` is a claim of its own (and
    is reported as not checked). ``editor`` defaults to a plain ``Editor()``, built once
    per process (no reference files loaded). The result has the columns of
    :meth:`Results.to_pandas`: one row per finding, every claim present. Claims that
    cannot be checked do not raise: their row carries the ``error``.
    """
    pd = require_pandas("check_frame()")
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"check_frame takes a pandas DataFrame, not {type(df).__name__}")
    if CLAIM_ID not in df.columns:
        raise ValueError(
            "check_frame needs a 'claim_id' column: the DataFrame must be in the flat claim-line "
            "layout (j9330_rules.readers.flat.COLUMNS, one row per claim line)"
        )
    if editor is None:
        editor = _default_editor()
    claims = list(frame_claims(df))
    return Results(editor.check_many(claims, as_of=as_of)).to_pandas()


def frame_claims(df: pandas.DataFrame) -> Iterator[dict[str, Any]]:
    """The claims (JSON-contract dicts) of a flat-layout DataFrame, in first-appearance order."""
    pd = require_pandas("frame_claims()")
    columns = [str(column) for column in df.columns]
    if len(set(columns)) != len(columns):
        raise ValueError("the DataFrame names a column twice")
    groups: dict[Any, list[dict[str, Any]]] = {}
    for position, values in enumerate(df.itertuples(index=False, name=None)):
        row = {column: _plain(pd, value) for column, value in zip(columns, values)}
        claim_id = row.get(CLAIM_ID)
        # A row without an id never joins another row: each becomes its own (invalid) claim.
        key = (
            ("id", type(claim_id).__name__, claim_id)
            if _hashable(claim_id) and claim_id is not None
            else ("row", position)
        )
        groups.setdefault(key, []).append(row)
    for rows in groups.values():
        yield from claims_from_rows(rows)


@functools.lru_cache(maxsize=1)
def _default_editor() -> Editor:
    from j9330_rules.editor import Editor

    return Editor()


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


def _plain(pd: Any, value: Any) -> Any:
    """A cell as the JSON contract has it: numpy scalars → Python, missing → None.

    A float column that pandas made from whole numbers with gaps (20 → 20.0) gives its
    whole numbers back as ints, and a date column's midnight timestamps become dates.
    """
    if isinstance(value, (list, tuple, Mapping)):
        return value
    if hasattr(value, "tolist") and getattr(value, "ndim", 0) > 0:  # a numpy array in a cell
        return value.tolist()
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        return value
    if type(value).__name__ == "datetime64":
        value = pd.Timestamp(value)
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    elif hasattr(value, "item") and type(value).__module__ == "numpy":
        value = value.item()
    if isinstance(value, dt.datetime):
        return value.date() if value.time() == dt.time(0) and value.tzinfo is None else value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value
