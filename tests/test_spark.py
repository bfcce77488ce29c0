"""j9330_rules.batch.spark: a Spark DataFrame of flat claim lines → a DataFrame of findings.

The Spark tests share one local[2] session (start-up is most of their time) and are
skipped when pyspark, pyarrow or Java is missing. Install them with
``pip install -e '.[test,spark]'`` and a Java 17+ runtime.
"""

from __future__ import annotations

import copy
import datetime as dt
import importlib.util
import os
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from j9330_rules import Editor
from j9330_rules.batch import spark as j9330_spark
from j9330_rules.batch.spark import FINDING_COLUMNS, check_dataframe
from j9330_rules.readers.flat import COLUMNS, claim_to_rows

from .conftest import CLEAN_CLAIM, FIXTURE_ASP, FIXTURE_MUE, make_claim


def _java() -> str | None:
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").exists():
        return str(Path(home) / "bin" / "java")
    return shutil.which("java")


def _spark_missing() -> str | None:
    for module in ("pyspark", "pyarrow", "pandas"):
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):  # a broken install, or blocked in sys.modules
            found = False
        if not found:
            return f"{module} is not installed (pip install -e '.[spark]')"
    if _java() is None:
        return "no Java runtime (pyspark needs Java 17+; set JAVA_HOME or put java on PATH)"
    return None


SKIP_REASON = _spark_missing()
requires_spark = pytest.mark.skipif(SKIP_REASON is not None, reason=f"Spark tests skipped: {SKIP_REASON}")


@pytest.fixture(scope="module")
def editor() -> Editor:
    """The adapter is under test here, not the engines: the default engine only."""
    return Editor(asp_file=FIXTURE_ASP, mue_file=FIXTURE_MUE)


# Executors get paths: in local mode they read the same files as the driver.
OPTIONS = {"asp_file": str(FIXTURE_ASP), "mue_file": [str(path) for path in FIXTURE_MUE]}
# As on a cluster: the files shipped with SparkContext.addFile (spark-submit --files), named
# by their file names, which the workers find in their SparkFiles directory.
SHIPPED_OPTIONS = {"asp_file": FIXTURE_ASP.name, "mue_file": [path.name for path in FIXTURE_MUE]}


def _lines(**changes: dict) -> list[dict]:
    """The clean claim's lines with changes to some of them (``l1={...}`` changes line 1)."""
    lines = copy.deepcopy(CLEAN_CLAIM["lines"])
    for name, change in changes.items():
        lines[int(name[1:]) - 1].update(change)
    return lines


def example_claims() -> list[dict[str, Any]]:
    """Clean and faulty variants of the contract's example claim, over all payers."""
    return [
        make_claim(),
        make_claim(claim_id="CLM-AETNA", payer="aetna"),
        make_claim(claim_id="CLM-BCBS-NO-PA", payer="bcbs"),
        make_claim(claim_id="CLM-CIGNA-DX", payer="cigna", diagnoses=["E11.9"]),
        make_claim(claim_id="CLM-UHC-INPATIENT", payer="uhc", place_of_service="21"),
        make_claim(claim_id="CLM-UNITS", lines=_lines(l1={"units": 30})),
        make_claim(claim_id="CLM-JW-MISSING", lines=_lines(l2={"modifiers": []})),
        make_claim(claim_id="CLM-NDC", lines=_lines(l1={"ndc": "12345678901"})),
        make_claim(claim_id="CLM-NO-ADMIN", lines=_lines()[:2]),
        make_claim(
            claim_id="CLM-340B",
            form="institutional",
            type_of_bill="0131",
            place_of_service=None,
            provider={"npi": "1234567893", "is_340b": True, "hospital_type": "dsh"},
            lines=_lines(l1={"revenue_code": "0636"}, l2={"revenue_code": "0636"}, l3={"revenue_code": "0510"}),
        ),
        make_claim(claim_id="CLM-UNKNOWN-PAYER", payer="nobody"),
    ]


BAD_CLAIM = make_claim(claim_id="CLM-BAD-UNITS", lines=_lines(l1={"units": "abc"}))


def _text(value: Any) -> str | None:
    """A flat cell as a CSV file holds it."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def expected_rows(editor: Editor, claims: list[dict]) -> list[tuple]:
    """What check_dataframe should return, straight from Editor.check_many."""
    rows = []
    for result in editor.check_many(claims):
        base = dict.fromkeys(FINDING_COLUMNS)
        base.update(claim_id=result.claim_id, payer=result.payer, disposition=result.disposition, error=result.error)
        if result.error is not None or not result.findings:
            rows.append(tuple(base.values()))
        for finding in result.findings:
            row = {
                **base,
                "line": finding.line,
                "code": finding.code,
                "severity": finding.severity,
                "carc": finding.carc,
                "rarc": finding.rarc,
                "message": finding.message,
                "rule_id": finding.rule_id,
                "source": finding.source,
                "line_disposition": result.line_dispositions.get(finding.line),
            }
            rows.append(tuple(row[column] for column in FINDING_COLUMNS))
    return sorted(rows, key=repr)


def string_frame(spark, claims: list[dict]):
    """The claims as a CSV file would give them: every flat column, as strings (built through
    Arrow, which spares a Python-worker pass over the input)."""
    import pyarrow as pa

    rows = [{column: _text(value) for column, value in row.items()} for claim in claims for row in claim_to_rows(claim)]
    return spark.createDataFrame(pa.Table.from_pylist(rows, schema=pa.schema([(c, pa.string()) for c in COLUMNS])))


def collected(df) -> list[tuple]:
    assert tuple(df.columns) == FINDING_COLUMNS
    return sorted((tuple(row) for row in df.collect()), key=repr)


@pytest.fixture(scope="module")
def spark():
    if SKIP_REASON is not None:
        pytest.skip(f"Spark tests skipped: {SKIP_REASON}")
    saved = {name: os.environ.get(name) for name in ("PYSPARK_PYTHON", "PYSPARK_DRIVER_PYTHON")}
    # Without this the workers start the system Python, which lacks the venv's packages.
    os.environ["PYSPARK_PYTHON"] = os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]")
        .appName("j9330-rules-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.python.worker.reuse", "true")
        # A C1-only JIT starts the short-lived test JVM faster (about a fifth off this file's time).
        .config("spark.driver.extraJavaOptions", "-XX:TieredStopAtLevel=1")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    for path in (FIXTURE_ASP, *FIXTURE_MUE):
        session.sparkContext.addFile(str(path))
    yield session
    session.stop()
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@requires_spark
def test_findings_equal_check_many_and_a_bad_row_is_an_error_row(spark, editor):
    """CSV-like string columns; a claim with units "abc" errors alone, the others are checked."""
    claims = example_claims()
    # The bad claim sits between good ones, so its neighbours share its partition and batch.
    claims.insert(5, BAD_CLAIM)
    df = string_frame(spark, claims)

    # Four partitions on two cores: each Python worker runs several tasks.
    got = collected(check_dataframe(df, editor_options=OPTIONS, num_partitions=4))

    assert got == expected_rows(editor, claims)
    bad = [row for row in got if row[0] == "CLM-BAD-UNITS"]
    assert len(bad) == 1
    assert bad[0][FINDING_COLUMNS.index("error")] == "$.lines[0].units: expected a number or a decimal string"
    assert bad[0][FINDING_COLUMNS.index("disposition")] == "not_checked"
    errors = {row[0] for row in got if row[FINDING_COLUMNS.index("error")] is not None}
    assert errors == {"CLM-BAD-UNITS", "CLM-UNKNOWN-PAYER"}
    assert {row[0] for row in got} == {claim["claim_id"] for claim in claims}
    clean = [row for row in got if row[0] == "CLM-0001"]
    assert clean == [("CLM-0001", "medicare") + (None,) * 8 + ("accept", None, None)]


def typed_schema():
    """Spark-typed flat columns; the patient, hospital type, prior authorization and
    documentation columns are left out."""
    import pyarrow as pa

    text, number = pa.string(), pa.float64()
    return pa.schema(
        [
            ("claim_id", text),
            ("payer", text),
            ("form", text),
            ("type_of_bill", text),
            ("place_of_service", text),
            ("diagnoses", pa.list_(text)),
            ("provider_npi", text),
            ("provider_is_340b", pa.bool_()),
            ("line", pa.int32()),
            ("hcpcs", text),
            ("modifiers", pa.list_(text)),
            ("units", number),
            ("service_date", pa.date32()),
            ("charge", pa.decimal128(12, 2)),
            ("ndc", text),
            ("ndc_unit", text),
            ("ndc_quantity", number),
            ("revenue_code", text),
            ("dx_pointers", pa.list_(pa.int32())),
            ("dose_mg", number),
        ]
    )


def _typed_row(claim: dict, line: dict) -> dict:
    return {
        "claim_id": claim["claim_id"],
        "payer": claim["payer"],
        "form": claim["form"],
        "type_of_bill": claim["type_of_bill"],
        "place_of_service": claim["place_of_service"],
        "diagnoses": claim["diagnoses"],
        "provider_npi": claim["provider"]["npi"],
        "provider_is_340b": claim["provider"]["is_340b"],
        "line": line["line"],
        "hcpcs": line["hcpcs"],
        "modifiers": line["modifiers"],
        "units": float(line["units"]),
        "service_date": dt.date.fromisoformat(line["service_date"]),
        "charge": Decimal(line["charge"]),
        "ndc": line.get("ndc"),
        "ndc_unit": line.get("ndc_unit"),
        "ndc_quantity": None if line.get("ndc_quantity") is None else float(line["ndc_quantity"]),
        "revenue_code": line.get("revenue_code"),
        "dx_pointers": line["dx_pointers"],
        "dose_mg": None if line.get("dose_mg") is None else float(line["dose_mg"]),
    }


def _without_missing_columns(claim: dict) -> dict:
    claim = copy.deepcopy(claim)
    for key in ("patient", "prior_authorization"):
        claim.pop(key, None)
    claim["provider"].pop("hospital_type", None)
    for line in claim["lines"]:
        line.pop("documentation", None)
    return claim


@requires_spark
def test_typed_columns_and_missing_optional_columns(spark, editor):
    """Spark types (array, double, date, decimal) and absent columns give the contract's claims;
    reference files shipped to the executors are found by name."""
    claims = [claim for claim in example_claims() if claim["payer"] != "nobody"]
    import pyarrow as pa

    rows = [_typed_row(claim, line) for claim in claims for line in claim["lines"]]
    df = spark.createDataFrame(pa.Table.from_pylist(rows, schema=typed_schema()))
    assert dict(df.dtypes)["service_date"] == "date" and dict(df.dtypes)["modifiers"] == "array<string>"
    # The rows of a claim need not be adjacent: shuffle them.
    df = df.orderBy("line", "claim_id")

    assert not Path(FIXTURE_ASP.name).exists()  # only the shipped copy can be found
    got = collected(check_dataframe(df, editor_options=SHIPPED_OPTIONS, as_of="2026-03-10"))

    expected_claims = [_without_missing_columns(claim) for claim in claims]
    assert got == expected_rows_as_of(editor, expected_claims, dt.date(2026, 3, 10))
    assert all(row[FINDING_COLUMNS.index("error")] is None for row in got)
    assert {row[0] for row in got} == {claim["claim_id"] for claim in claims}


def expected_rows_as_of(editor: Editor, claims: list[dict], as_of: dt.date) -> list[tuple]:
    class AsOf:
        def check_many(self, claims):
            return editor.check_many(claims, as_of=as_of)

    return expected_rows(AsOf(), claims)  # type: ignore[arg-type]


@requires_spark
def test_each_worker_builds_its_editor_once(spark):
    """After the checks above (several tasks per worker), no worker built the Editor twice."""
    import pyarrow as pa

    key = j9330_spark.options_key(OPTIONS)

    def probe(batches):
        import os

        from j9330_rules.batch import spark as module

        for _ in batches:
            pass
        yield pa.RecordBatch.from_pylist(
            [{"pid": os.getpid(), "builds": module.editor_builds().get(key, 0)}],
            schema=pa.schema([("pid", pa.int64()), ("builds", pa.int32())]),
        )

    # A fresh check first, so the test also holds when run alone.
    df = string_frame(spark, example_claims())
    assert check_dataframe(df, editor_options=OPTIONS, num_partitions=6).count() > 0
    reports = spark.range(0, 8, numPartitions=8).mapInArrow(probe, "pid long, builds int").collect()
    builds = {}
    for report in reports:
        builds.setdefault(report.pid, set()).add(report.builds)
    assert all(values <= {0, 1} for values in builds.values()), builds
    assert any(1 in values for values in builds.values()), builds
    assert os.getpid() not in builds  # the check ran in the workers, not the driver


@requires_spark
def test_rejects_a_dataframe_without_claim_id_and_unknown_options(spark):
    df = spark.createDataFrame([("J9330",)], "hcpcs string")
    with pytest.raises(ValueError, match="claim_id"):
        check_dataframe(df)
    df = spark.createDataFrame([("C1",)], "claim_id string")
    with pytest.raises(TypeError, match="asp_fil"):
        check_dataframe(df, editor_options={"asp_fil": "x.csv"})
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        check_dataframe(df, as_of="March 2026")
    with pytest.warns(UserWarning, match="history"):
        check_dataframe(df, editor_options={"history": "history.sqlite3"})  # lazy: nothing runs


def test_module_imports_without_pyspark_and_says_which_extra_to_install():
    code = (
        "import sys; sys.modules['pyspark'] = None; sys.modules['pyarrow'] = None\n"
        "import j9330_rules.batch.spark as s\n"
        "try:\n    s.check_dataframe(object())\n"
        "except ImportError as e:\n    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert "pip install 'j9330-rules[spark]'" in out.stdout
    assert "needs pyspark" in out.stdout


def test_worker_side_without_spark_groups_rows_into_claims(editor):
    """check_batches over plain Arrow batches: a claim split over two batches stays whole."""
    pa = pytest.importorskip("pyarrow")
    claims = example_claims()[:3]
    rows = [{column: _text(value) for column, value in row.items()} for claim in claims for row in claim_to_rows(claim)]
    schema = pa.schema([(column, pa.string()) for column in COLUMNS])
    batches = [pa.RecordBatch.from_pylist(rows[:4], schema=schema), pa.RecordBatch.from_pylist(rows[4:], schema=schema)]
    out = [row for batch in j9330_spark.check_batches(batches, OPTIONS) for row in batch.to_pylist()]
    got = sorted((tuple(row[column] for column in FINDING_COLUMNS) for row in out), key=repr)
    assert got == expected_rows(editor, claims)


def test_cells_become_json_contract_values():
    plain = j9330_spark._plain
    assert plain(float("nan")) is None and plain(20.0) == 20 and isinstance(plain(20.0), int) and plain(2.5) == 2.5
    assert plain(dt.datetime(2026, 3, 2)) == dt.date(2026, 3, 2)
    assert plain(dt.datetime(2026, 3, 2, tzinfo=dt.UTC)) == dt.date(2026, 3, 2)
    assert plain(dt.datetime(2026, 3, 2, 9, 30)) == dt.datetime(2026, 3, 2, 9, 30)
    assert plain([1.0, "JW"]) == [1, "JW"] and plain(Decimal("1.50")) == Decimal("1.50")
