"""Peak RSS of reading claim files of two sizes, CSV and NDJSON, each read in a fresh process.

    python bench/reader_memory.py                  # 20,000 and 200,000 claims
    python bench/reader_memory.py --claims 20000 1000000

The results are counted, not kept, so the figure is the reader's memory: flat in the file's
size when the reader streams (issue 15). The claims are tests/conftest.py's made-up claim.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from j9330_rules.readers.flat import COLUMNS, claim_to_rows  # noqa: E402
from tests.conftest import make_claim  # noqa: E402

READ = (
    "import resource, sys\nfrom j9330_rules.readers import read_paths\n"
    "n = sum(1 for _ in read_paths([sys.argv[1]], None))\n"
    "print(n, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)"
)


def write_files(folder: Path, claims: int) -> list[Path]:
    csv_path, ndjson_path = folder / f"claims-{claims}.csv", folder / f"claims-{claims}.ndjson"
    with csv_path.open("w", newline="", encoding="utf-8") as rows, ndjson_path.open("w", encoding="utf-8") as lines:
        writer = csv.DictWriter(rows, fieldnames=COLUMNS)
        writer.writeheader()
        for number in range(claims):
            claim = make_claim(claim_id=f"R-{number}")
            lines.write(json.dumps(claim) + "\n")
            writer.writerows({key: "" if v is None else v for key, v in row.items()} for row in claim_to_rows(claim))
    return [csv_path, ndjson_path]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--claims", type=int, nargs="*", default=[20_000, 200_000])
    args = parser.parse_args()
    print(f"{'format':<7} {'file MB':>8} {'claims':>9} {'peak MB':>8}")
    with tempfile.TemporaryDirectory() as folder:
        for claims in args.claims:
            for path in write_files(Path(folder), claims):
                done = subprocess.run(
                    [sys.executable, "-c", READ, str(path)], capture_output=True, text=True, cwd=ROOT, check=True
                )
                count, peak = done.stdout.split()
                print(f"{path.suffix[1:]:<7} {path.stat().st_size / 1e6:>8.1f} {int(count):>9,} {int(peak):>8}")
                assert int(count) == claims, f"{claims} claims gave {count} results"
                path.unlink()


if __name__ == "__main__":
    main()
