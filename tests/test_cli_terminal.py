"""The CLI under a real pseudo-terminal, as a person runs it: `script` gives it a tty.

With stderr a terminal the progress bar is live; stdout must still carry the data, whole,
when it is redirected to a file or a pipe.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shlex
import shutil
import subprocess
import sys

import pytest

from tests.conftest import EXAMPLES

SCRIPT = shutil.which("script")
pytestmark = pytest.mark.skipif(SCRIPT is None, reason="util-linux `script` is not installed")
COMMAND = [sys.executable, "-m", "j9330_rules"]


def in_terminal(shell: str, tmp_path, columns: int = 80) -> str:
    """Run a shell line under a pseudo-terminal of ``columns`` columns; what the screen showed."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("J9330_RULES_")}
    env.update(TERM="xterm-256color", COLUMNS=str(columns), LINES="40")
    env.pop("NO_COLOR", None)
    completed = subprocess.run(
        [SCRIPT, "-qec", f"stty cols {columns} rows 40; {shell}", "/dev/null"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        timeout=120,
        check=False,
    )
    return completed.stdout.decode("utf-8", "replace")


def check(*args: str) -> str:
    return " ".join(shlex.quote(part) for part in [*COMMAND, "check", "--fail-on", "never", *args])


@pytest.mark.parametrize("fmt", ["ndjson", "json", "csv", "x12-summary"])
def test_redirected_machine_formats_hold_every_result(tmp_path, fmt):
    out = tmp_path / "out"
    screen = in_terminal(f"{check('--format', fmt, str(EXAMPLES))} > {out}", tmp_path)
    text = out.read_text(encoding="utf-8")
    if fmt == "ndjson":
        ids = {json.loads(line)["claim_id"] for line in text.splitlines()}
    elif fmt == "json":
        ids = {r["claim_id"] for r in json.loads(text)}
    else:
        ids = {row["claim_id"] for row in csv.DictReader(io.StringIO(text))}
    assert len(ids) >= (12 if fmt != "x12-summary" else 6), text[:500]
    assert "\x1b" not in text and "checking" not in text  # no progress or colour in the data
    assert "12 claims: 6 blocking, 1 not checked, 2 warn, 3 notes only" in screen


def test_a_pipe_gets_the_data(tmp_path):
    out = tmp_path / "out"
    in_terminal(f"{check('--format', 'ndjson', str(EXAMPLES))} | cat > {out}", tmp_path)
    assert len(out.read_text(encoding="utf-8").splitlines()) == 12


def test_redirected_table_is_plain_text(tmp_path):
    out = tmp_path / "table.txt"
    in_terminal(f"{check(str(EXAMPLES))} > {out}", tmp_path)
    text = out.read_text(encoding="utf-8")
    assert text.startswith("Notes for the whole run")
    assert "EX-03-JZ-MISSING  medicare  blocking" in text
    assert "\x1b" not in text and "12 claims:" not in text


def test_output_option_in_a_terminal(tmp_path):
    out = tmp_path / "out.ndjson"
    screen = in_terminal(check("--format", "ndjson", "-o", str(out), str(EXAMPLES)), tmp_path)
    assert len(out.read_text(encoding="utf-8").splitlines()) == 12
    assert '"claim_id"' not in screen


def test_the_table_fits_an_80_column_terminal(tmp_path):
    screen = in_terminal(check(str(EXAMPLES)), tmp_path, columns=80)
    plain = _plain(screen)
    assert "EX-03-JZ-MISSING  medicare  blocking" in plain
    assert max(len(line) for line in plain.splitlines()) <= 80
    # the message gets most of the width: its first line is not a sliver
    message = next(line for line in plain.splitlines() if "The payer requires JZ" in line)
    assert len(message.strip()) >= 50
    assert "12 claims: 6 blocking, 1 not checked, 2 warn, 3 notes only" in plain


def _plain(screen: str) -> str:
    import re

    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen)
    return "\n".join(line.split("\r")[-1] for line in text.replace("\r\n", "\n").split("\n"))
