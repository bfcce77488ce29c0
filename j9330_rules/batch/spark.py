"""Spark: check the claim lines of a Spark DataFrame; the findings as a Spark DataFrame.

The input holds one row per claim line in the flat layout of :mod:`j9330_rules.readers.flat`
(``flat.COLUMNS``; absent columns are absent values, unknown columns ride along on
the claim, as in a CSV file). Claim-level edits need every line of a claim, so the
rows are hash-partitioned by ``claim_id``, sorted within each partition (by claim id,
then input order) and fed to ``mapInArrow``: each Python worker reads whole claims
from consecutive rows, rebuilds each with :func:`j9330_rules.readers.flat.claims_from_rows`
and checks them with one :class:`~j9330_rules.editor.Editor`, built once per worker
process and kept in a module-level cache keyed by the editor options.

pyspark (and pyarrow) are optional: this module imports without them, and
:func:`check_dataframe` raises an ImportError naming the ``spark`` extra when they
are missing. See docs/spark.md for running it locally and on a cluster.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import pickle
import threading
import warnings
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from j9330_rules.config import EditorConfig
from j9330_rules.readers.flat import claims_from_rows
from j9330_rules.writers.rows import FINDING_COLUMNS, finding_rows

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from j9330_rules.editor import Editor
    from j9330_rules.model import Result

#: The findings DataFrame's columns are writers/rows.py's FINDING_COLUMNS, one row per finding.
#: Its schema as Spark DDL (``line`` is an int, the rest strings).
FINDING_SCHEMA = ", ".join(f"{name} {'int' if name == 'line' else 'string'}" for name in FINDING_COLUMNS)
INSTALL_SPARK = "pip install 'j9330-rules[spark]'"
CLAIM_ID = "claim_id"
#: A column added for the input order of the rows (so a claim's lines keep their order).
ORDER_COLUMN = "__j9330_row_order"
#: Editor options that name reference files: a relative path missing from the worker's
#: working directory is looked up among the files shipped with ``--files``/``addFile``.
FILE_OPTIONS = ("asp_file", "crosswalk_file", "mue_file", "fee_schedule", "overrides")

# The per-process cache: one Editor per options key. Executors' Python workers import
# this module once (Spark reuses its Python workers across tasks), so each builds its
# Editor on the first task that needs it and reuses it for every later task and batch.
_EDITORS: dict[str, Editor] = {}
_LOCK = threading.Lock()
#: How many Editors this process has built, per options key (see :func:`editor_builds`).
_BUILDS: Counter[str] = Counter()


def check_dataframe(
    df: DataFrame,
    *,
    editor_options: Mapping[str, Any] | EditorConfig | None = None,
    as_of: dt.date | str | None = None,
    num_partitions: int | None = None,
) -> DataFrame:
    """Check the claims whose lines are the rows of ``df``; the findings as a DataFrame.

    ``df`` is a Spark DataFrame in the flat claim-line layout (``j9330_rules.readers.flat.COLUMNS``):
    it needs a ``claim_id`` column, other columns may be absent, and the rows of a claim are
    those with its ``claim_id`` wherever they are (a row with a null ``claim_id`` is a claim
    of its own, reported as not checked). Columns may be strings, as read from a CSV file,
    or typed (ints, doubles, decimals, dates; ``array<string>`` for the list columns).

    ``editor_options`` is an :class:`~j9330_rules.config.EditorConfig` or its keyword arguments
    (``asp_file``, ``crosswalk_file``, ``mue_file``, ``fee_schedule``, ``overrides``, ...),
    and must be picklable: every executor's Python worker builds its Editor from them once,
    so file paths must be readable where the executors run. A relative path that a worker
    does not find in its working directory is looked up among the files shipped to the
    executors (``spark-submit --files``, ``SparkContext.addFile``); see docs/spark.md.
    ``history`` is allowed but each worker then reads and writes that SQLite file on its own
    host, in no defined order (a warning says so). ``as_of`` is the processing date (a date or
    ``YYYY-MM-DD``); None chooses the rules by each line's date of service. ``num_partitions``
    is how many partitions the claims are hashed into (default:
    ``spark.sql.shuffle.partitions``); it bounds the parallelism of the check.

    Returns a lazy DataFrame with the columns :data:`FINDING_COLUMNS` (schema
    :data:`FINDING_SCHEMA`): one row per finding, one row with a null ``code`` for a claim
    without findings, one row with ``error`` set (and ``disposition`` ``not_checked``) for
    a claim that could not be checked. Bad claims never fail the job. Rows come in no
    particular order.
    """
    _require_spark()
    if not (hasattr(df, "mapInArrow") and hasattr(df, "columns")):
        raise TypeError(f"check_dataframe takes a Spark DataFrame, not {type(df).__name__}")
    columns = [str(column) for column in df.columns]
    if len(set(columns)) != len(columns):
        raise ValueError("the DataFrame names a column twice")
    if CLAIM_ID not in columns:
        raise ValueError(
            "check_dataframe needs a 'claim_id' column: the DataFrame must be in the flat claim-line "
            "layout (j9330_rules.readers.flat.COLUMNS, one row per claim line)"
        )
    if ORDER_COLUMN in columns:
        raise ValueError(f"the column name {ORDER_COLUMN!r} is reserved for check_dataframe")
    options = _check_options(editor_options)
    if options.get("history") is not None:
        warnings.warn(
            "check_dataframe with history: each Spark worker records to and reads the SQLite file at that "
            "path on its own host, and claims are checked in no defined order, so the dosing-interval and "
            "unit-limit edits across claims are not reproducible (see docs/spark.md)",
            stacklevel=2,
        )
    key = options_key(options)
    day = _check_as_of(as_of)
    if num_partitions is None:
        configured = str(df.sparkSession.conf.get("spark.sql.shuffle.partitions", "200")).strip()
        num_partitions = int(configured) if configured.isdigit() else None  # e.g. "auto"
    elif isinstance(num_partitions, bool) or not isinstance(num_partitions, int) or num_partitions < 1:
        raise ValueError("num_partitions must be a positive integer")

    from pyspark.sql import functions as F

    # An explicit partition count also keeps adaptive execution from coalescing the
    # shuffle into a single partition (and so a single core) for small inputs.
    numbered = df.withColumn(ORDER_COLUMN, F.monotonically_increasing_id())
    partitioned = (
        numbered.repartition(num_partitions, F.col(CLAIM_ID))
        if num_partitions
        else numbered.repartition(F.col(CLAIM_ID))
    )
    grouped = partitioned.sortWithinPartitions(F.col(CLAIM_ID).asc_nulls_first(), F.col(ORDER_COLUMN))

    def check_partition(batches: Iterable[Any]) -> Iterator[Any]:
        # Pickled by value; it calls the module's function, so the cache is the module's.
        return check_batches(batches, options, key=key, as_of=day)

    return grouped.mapInArrow(check_partition, FINDING_SCHEMA)


def check_batches(
    batches: Iterable[Any], options: Mapping[str, Any], *, key: str | None = None, as_of: dt.date | None = None
) -> Iterator[Any]:
    """The worker side: Arrow record batches of sorted flat rows → batches of findings.

    A claim's rows must be consecutive (they may span batches). Public so that it can be
    used with other Arrow sources; :func:`check_dataframe` is the usual entry point.
    """
    import pyarrow as pa

    schema = pa.schema([(name, pa.int32() if name == "line" else pa.string()) for name in FINDING_COLUMNS])
    editor = worker_editor(options, key)
    pending: list[dict[str, Any]] = []
    pending_id: Any = None
    for batch in batches:
        groups: list[list[dict[str, Any]]] = []
        for raw in batch.to_pylist():
            raw.pop(ORDER_COLUMN, None)
            row = {column: _plain(value) for column, value in raw.items()}
            claim_id = row.get(CLAIM_ID)
            # A row without an id never joins another row: it is a claim of its own.
            if pending and (claim_id is None or claim_id != pending_id):
                groups.append(pending)
                pending = []
            pending.append(row)
            pending_id = claim_id
        if groups:
            yield pa.RecordBatch.from_pylist(list(finding_rows(_check(editor, groups, as_of))), schema=schema)
    if pending:
        yield pa.RecordBatch.from_pylist(list(finding_rows(_check(editor, [pending], as_of))), schema=schema)


def worker_editor(options: Mapping[str, Any], key: str | None = None) -> Editor:
    """This process's Editor for ``options``: built on first use, then reused."""
    key = options_key(options) if key is None else key
    editor = _EDITORS.get(key)
    if editor is None:
        with _LOCK:
            editor = _EDITORS.get(key)
            if editor is None:
                from j9330_rules.editor import Editor

                editor = Editor(
                    **{name: _shipped(value) if name in FILE_OPTIONS else value for name, value in options.items()}
                )
                _EDITORS[key] = editor
                _BUILDS[key] += 1
    return editor


def _shipped(value: Any) -> Any:
    """A relative path not found here, resolved among the files Spark shipped to this worker."""
    if isinstance(value, (list, tuple)):
        return [_shipped(item) for item in value]
    if not isinstance(value, (str, os.PathLike)):
        return value
    path = Path(value)
    if path.is_absolute() or path.exists():
        return value
    try:
        from pyspark import SparkFiles

        shipped = Path(SparkFiles.get(os.fspath(value)))
    except Exception:  # not in a Spark worker, or no SparkContext: leave the path as given
        return value
    return str(shipped) if shipped.exists() else value


def editor_builds() -> dict[str, int]:
    """How many Editors this process has built, per options key (each should be 1)."""
    return dict(_BUILDS)


def options_key(options: Mapping[str, Any] | None) -> str:
    """The cache key of a set of editor options (computed once, on the driver)."""
    return json.dumps(dict(options or {}), sort_keys=True, default=_key_part)


def _key_part(value: Any) -> Any:
    if isinstance(value, (list, tuple, set, frozenset)):
        return list(value)
    if isinstance(value, (str, bytes)) or hasattr(value, "__fspath__") or isinstance(value, dt.date):
        return str(value)
    # Anything else (a plugin object, an Override) must be picklable to reach the executors
    # anyway; its pickle tells equal options from different ones.
    try:
        return f"{type(value).__qualname__}:{hashlib.sha256(pickle.dumps(value)).hexdigest()}"
    except Exception:
        return f"{type(value).__qualname__}:{id(value)}"


def _check(editor: Editor, groups: list[list[dict[str, Any]]], as_of: dt.date | None) -> Iterator[Result]:
    from j9330_rules.model import Result
    from j9330_rules.model.structure import safe_claim_id

    for rows in groups:
        try:
            claims = list(claims_from_rows(rows))
        except Exception as exc:  # a row the layout cannot read must not fail the job
            head = rows[0]
            payer = head.get("payer")
            yield Result(
                safe_claim_id(head),
                payer if isinstance(payer, str) and len(payer) <= 64 else None,
                error=f"the claim's rows could not be read ({type(exc).__name__})",
            )
            continue
        yield from editor.check_many(claims, as_of=as_of)


def _plain(value: Any) -> Any:
    """A cell as the JSON contract has it: NaN → None, midnight timestamps → dates (Spark's
    timestamps arrive in the session time zone), whole floats → ints (20.0 units are 20)."""
    if isinstance(value, float):
        if value != value:
            return None
        return int(value) if value.is_integer() else value
    if isinstance(value, dt.datetime):
        return value.date() if value.time() == dt.time(0) else value
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def _check_options(options: Mapping[str, Any] | EditorConfig | None) -> dict[str, Any]:
    if options is None:
        return {}
    if not isinstance(options, (Mapping, EditorConfig)):
        raise TypeError("editor_options must be an EditorConfig or a dict of its keyword arguments")
    if isinstance(options, EditorConfig):
        options = {name: getattr(options, name) for name in EditorConfig.option_names()}
    accepted = set(EditorConfig.option_names())
    unknown = sorted(set(map(str, options)) - accepted)
    if unknown:
        raise TypeError(
            f"editor_options has unknown keys: {', '.join(unknown)}; Editor takes {', '.join(sorted(accepted))}"
        )
    return dict(options)


def _check_as_of(as_of: dt.date | str | None) -> dt.date | None:
    if as_of is None:
        return None
    if isinstance(as_of, dt.datetime):
        raise TypeError("as_of is a date, not a datetime")
    if isinstance(as_of, dt.date):
        return as_of
    if isinstance(as_of, str):
        try:
            return dt.date.fromisoformat(as_of.strip())
        except ValueError:
            raise ValueError("as_of must be a date as YYYY-MM-DD") from None
    raise TypeError(f"as_of must be a date or None, not {type(as_of).__name__}")


def _require_spark() -> None:
    """pyspark and pyarrow, or an ImportError that says how to install them."""
    try:
        import pyarrow  # noqa: F401
        import pyspark  # noqa: F401
    except ImportError as exc:
        raise ImportError(
            f"check_dataframe() needs pyspark and pyarrow, optional dependencies of j9330-rules: {INSTALL_SPARK}"
        ) from exc
