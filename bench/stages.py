"""Where one compiled check's time goes, stage by stage, without a profiler's overhead.

    python bench/stages.py [--rounds 5]

Each stage of ``Editor.check`` runs alone over the valid claims of the bench pool (the best of
``--rounds``), on the inputs the stage before produced: structuring the claim dict into the
attrs model, building the facts, the compiled engine, findings, evidence, the payment
benchmark through the plugin hook, and the run-wide findings. "the rest" is the whole check
less the stages: the audit, the result, sorting, the lock. Then the straight-line checker
(bench/straight.py) on the same claims, for the budget a ratio to it leaves.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

from claims import generate  # noqa: E402
from run import editor  # noqa: E402
from straight import Straight  # noqa: E402

from j9330_rules.findings import evidence  # noqa: E402
from j9330_rules.model.structure import structure_claim  # noqa: E402


def best(function, rounds: int) -> float:
    fastest = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        function()
        fastest = min(fastest, time.perf_counter() - started)
    return fastest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    built = editor("compiled")
    pool = generate(4000)
    list(built.check_many(pool))  # warm the memos, as a long run has them
    models = []
    for claim in pool:
        try:
            model = structure_claim(built.with_payer(claim))
        except Exception:
            continue
        if model.drug_lines and model.payer in built.registry.payers:
            models.append((claim, model))
    raw = [claim for claim, _model in models]
    payers = [built.registry.payers[model.payer] for _claim, model in models]
    facts = [built._builders[model.payer].build(model) for _claim, model in models]
    firings = [built._engines[model.payer].evaluate(fact) for (_claim, model), fact in zip(models, facts)]
    stages = {
        "structure the claim (attrs model)": lambda: [structure_claim(built.with_payer(c)) for c in raw],
        "build the facts": lambda: [built._builders[m.payer].build(m) for _c, m in models],
        "compiled engine": lambda: [built._engines[m.payer].evaluate(f) for (_c, m), f in zip(models, facts)],
        "findings": lambda: [list(map(built._findings[m.payer], fs)) for (_c, m), fs in zip(models, firings)],
        "evidence": lambda: [evidence(fs) for fs in firings],
        "payment benchmark (plugin hook)": lambda: [built._benchmark(m, p) for (_c, m), p in zip(models, payers)],
        "run-wide findings": lambda: [built._context_findings(p) for p in payers],
    }
    whole = best(lambda: [built.check(c) for c in raw], args.rounds)
    count = len(raw)
    print(f"compiled Editor.check, {count:,} valid claims of the bench pool, best of {args.rounds}; µs per claim")
    spent = 0.0
    for name, stage in stages.items():
        seconds = best(stage, args.rounds)
        spent += seconds
        print(f"  {name:36}{seconds / count * 1e6:7.1f}")
    print(f"  {'the rest (audit, result, sort, lock)':36}{(whole - spent) / count * 1e6:7.1f}")
    print(f"  {'whole check':36}{whole / count * 1e6:7.1f}")
    checker = Straight(built.reference, built.policies)
    line = best(lambda: [checker.check(c) for c in raw], args.rounds)
    print(f"straight-line checker (bench/straight.py), same claims: {line / count * 1e6:.1f} µs per claim")
    print(f"0.5x the straight-line checker leaves {2 * line / count * 1e6:.1f} µs per claim for the whole check")
    return 0


if __name__ == "__main__":
    sys.exit(main())
