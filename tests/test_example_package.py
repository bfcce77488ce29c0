"""The worked third-party plugin in docs/examples: pip-installed, found through the entry point.

It is a FICTIONAL payer with made-up citations and a made-up fee schedule (see the package).
"""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import make_claim

DOCS = Path(__file__).resolve().parent.parent / "docs"
PACKAGE = DOCS / "examples" / "j9330-acme-health"


def test_the_example_package_is_the_one_the_docs_show():
    blocks = re.findall(r"<!-- file: (\S+) -->\n```[a-z]*\n(.*?)```", (DOCS / "plugins.md").read_text(), re.S)
    assert len(blocks) == 4
    for name, body in blocks:
        path = PACKAGE.parent / name if name.startswith("j9330-acme-health/") else PACKAGE / name
        assert path.read_text() == body, name


def _pip(*args):
    done = subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    source = tmp_path_factory.mktemp("src") / "j9330-acme-health"
    shutil.copytree(PACKAGE, source)  # building writes into the source tree: keep docs/ clean
    _pip("install", "--no-deps", "--quiet", str(source))
    yield source
    _pip("uninstall", "--yes", "--quiet", "j9330-acme-health")


CHECK = """
import json, sys
from j9330_rules import Editor
editor = Editor(fee_schedule=sys.argv[1])
claims = json.loads(sys.stdin.read())
print(json.dumps({"payers": sorted(editor.payers),
                  "results": [{"codes": sorted(f.rule_id for f in r.findings),
                               "allowed": r.payment and str(r.payment.allowed)} for r in editor.check_many(claims)]}))
"""


def test_installed_plugin_rules_fire_with_no_change_to_the_host(installed):
    clean = make_claim(payer="acme_health")
    big = make_claim(payer="acme_health")
    big["lines"][0].update(units=60, dose_mg="60")
    big["lines"][1].update(units=15)
    done = subprocess.run(
        [sys.executable, "-c", CHECK, str(installed / "acme_fee_schedule.csv")],
        input=json.dumps([clean, big]),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert "acme_health" in out["payers"] and "medicare" in out["payers"]
    assert out["results"][0] == {"codes": [], "allowed": "25.00"}  # 25 units x the made-up 1.00
    assert {"ACME-UNITS-CAP", "NAT-DOSE-LABEL", "NAT-DOSE-MAX"} <= set(out["results"][1]["codes"])


def test_the_plugins_command_lists_the_installed_plugin(installed):
    done = subprocess.run([sys.executable, "-m", "j9330_rules", "plugins"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "acme_health" in done.stdout and "j9330-acme-health" not in done.stderr
