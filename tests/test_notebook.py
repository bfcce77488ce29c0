"""docs/notebook.ipynb runs top to bottom in a fresh kernel and shows what it says it shows."""

from __future__ import annotations

import json
import sys

import pytest

from tests.conftest import ROOT

NOTEBOOK = ROOT / "docs" / "notebook.ipynb"

nbclient = pytest.importorskip("nbclient", reason="nbclient is not installed: pip install -e '.[test]'")
import nbformat  # noqa: E402  (nbclient requires it)


def _text(cell) -> str:
    """Everything a code cell showed: streams, plain text and HTML.

    Stream text is joined as written: a busy kernel can flush one printed line in two
    stream outputs, which must not become two lines here.
    """
    parts = []
    for output in cell.get("outputs", ()):
        if output.output_type == "stream":
            parts.append(output.text)
        elif output.output_type in ("execute_result", "display_data"):
            parts.extend(f"\n{output.data.get(kind, '')}\n" for kind in ("text/plain", "text/html"))
    return "".join(parts)


def _execute(cwd):
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    try:
        import ipykernel  # noqa: F401
    except ImportError:
        pytest.fail("nbclient is installed but ipykernel is not: pip install -e '.[test]'")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("import sys; print('KERNEL', sys.executable)", id="which-python"))
    # kernel_dirs=[]: only ipykernel's own "python3" spec, which runs this interpreter (the venv's),
    # never a python3 kernelspec installed elsewhere on the machine.
    km = KernelManager(kernel_name="python3", kernel_spec_manager=KernelSpecManager(kernel_dirs=[]))
    client = nbclient.NotebookClient(nb, km=km, timeout=120, resources={"metadata": {"path": str(cwd)}})
    client.execute()  # raises CellExecutionError on the first failing cell
    return {cell.id: cell for cell in nb.cells if cell.cell_type == "code"}


@pytest.fixture(scope="module")
def executed():
    """Run where Jupyter starts when the notebook is opened from docs/: its own folder."""
    return _execute(NOTEBOOK.parent)


def test_runs_from_the_repository_root_too():
    cells = _execute(ROOT)
    assert "12 claims: 6 blocking, 1 not checked, 2 warn, 3 notes only" in _text(cells["check"])
    assert "EX-01-PARTIAL-KIT (medicare): accept, no findings" in _text(cells["refdata"])


def test_the_committed_notebook_has_no_outputs():
    raw = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    for cell in raw["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None, cell["id"]
    nbformat.validate(nbformat.reads(NOTEBOOK.read_text(encoding="utf-8"), as_version=4))


def test_runs_without_errors_in_the_venv_kernel(executed):
    for cell_id, cell in executed.items():
        assert not [o for o in cell.outputs if o.output_type == "error"], cell_id
    assert f"KERNEL {sys.executable}" in _text(executed["which-python"])


def test_checks_the_examples_and_shows_a_table(executed):
    shown = _text(executed["check"])
    assert "12 claims: 6 blocking, 1 not checked, 2 warn, 3 notes only" in shown
    assert "<table>" in shown and "JWJZ_MISSING" in shown
    assert 'class="j9330-sev-reject">reject<' in shown  # severities are styled


def test_statistics_count_by_code(executed):
    shown = _text(executed["statistics"])
    assert "'code': 'ERROR', 'severity': 'error', 'findings': 1" in shown


def test_reads_findings_and_dispositions(executed):
    shown = _text(executed["findings"])
    assert "JWJZ_MISSING reject 1 16 N822 NAT-JWJZ-MISSING" in shown
    assert "claim: return_to_provider | lines: {1: 'return_to_provider', 3: 'accept'}" in shown
    assert "EX-11-INVALID-INPUT not_checked" in _text(executed["errors"])


def test_dataframes(executed):
    shown = _text(executed["pandas"])
    assert "WASTE_ARITHMETIC" in shown and "REFERENCE_DATA_MISSING" not in shown
    assert shown.index("reject") < shown.rindex("deny")  # sorted by the ordered severity
    frame = _text(executed["frame"])
    assert "NDC_INVALID" in frame and "DX_NOT_COVERED" in frame


def test_reference_fixtures_make_the_clean_claim_clean(executed):
    assert "EX-01-PARTIAL-KIT (medicare): accept, no findings" in _text(executed["refdata"])
    assert "EX-01-PARTIAL-KIT accept findings: 0" in _text(executed["payment"])


def test_custom_rule_fires(executed):
    assert "demo_health" in _text(executed["plugin"])
    shown = _text(executed["custom-rule"])
    assert "DEMO-UNITS-CAP UNITS_OVER_POLICY_LIMIT deny - 25 units" in shown
    assert "disposition: deny_lines" in shown
