"""Benchmark: durable-rules vs the compiled engine vs a hand-written baseline, in one run.

    python bench/run.py [--claims N] [--quick] [--profile ENGINE]

See bench/README.md for what each number means. Everything is measured in this one command:
throughput through ``Editor.check_many`` and through the engines alone (interleaved rounds
over the same claims, so machine noise falls on every engine alike), the latency of single
``Editor.check`` calls, and the memory of a long ``check_many`` run per engine (each in its own
child process, both children at once, one per core).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(HERE), str(ROOT)]

from baseline import BY_ID, HandWritten  # noqa: E402
from claims import generate, stream  # noqa: E402

from j9330_rules import ClaimError, Editor  # noqa: E402
from j9330_rules.facts.builder import day_number  # noqa: E402
from j9330_rules.model.structure import structure_claim  # noqa: E402

CMS = ROOT / "tests" / "fixtures" / "cms"
# Made-up numbers in the published CMS layouts (see each file's header); the same as the tests'.
REFERENCE = dict(
    asp_file=CMS / "asp_payment_limit_fixture_january_2026.csv",
    crosswalk_file=CMS / "asp_ndc_hcpcs_crosswalk_fixture_january_2026.csv",
    mue_file=[
        CMS / "MCR_MUE_PractitionerServices_Eff_01-01-2026_fixture.csv",
        CMS / "MCR_MUE_OutpatientHospitalServices_Eff_01-01-2026_fixture.csv",
    ],
    fee_schedule=ROOT / "tests" / "fixtures" / "fees" / "contract_fee_schedule_fixture.csv",
)
ENGINES = ("durable", "compiled")

# pool, engine-only rounds, check_many claims per engine, latency claims, memory run (N), claims per workers run
SIZES = {
    "full": dict(pool=4000, engine_rounds=5, end_to_end=9_000, latency=2000, claims=1_000_000, parallel=20_000),
    "quick": dict(pool=600, engine_rounds=3, end_to_end=900, latency=300, claims=3000, parallel=2000),
}


def editor(engine: str) -> Editor:
    return Editor(**REFERENCE, engine=engine)


def baseline_editor(exclude: frozenset[str] = frozenset()) -> Editor:
    """An Editor whose engines are the hand-written predicates: everything else is the same."""
    built = editor("compiled")
    built._engines = {name: HandWritten(policy.rules, name, exclude=exclude) for name, policy in built.policies.items()}
    return built


def _status_kib(field: str) -> int | None:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return None


def rss_kib() -> int:
    return _status_kib("VmRSS") or 0


def peak_rss_kib() -> int:
    """The process's resident high-water mark (VmHWM; ru_maxrss would keep the parent's across exec)."""
    found = _status_kib("VmHWM")
    return found if found is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


# --- checks before timing ---------------------------------------------------------------


def engine_work(built: Editor, pool: list[dict]) -> list[tuple[str, list[dict]]]:
    """(payer, facts) for every valid claim of the pool: the engines' input, built once."""
    work = []
    for claim in pool:
        try:
            model = structure_claim(claim)
        except ClaimError:
            continue
        if model.payer in built.policies:
            work.append((model.payer, built._builders[model.payer].build(model)))
    return work


def stale_baseline_rules(built: Editor, work: list[tuple[str, list[dict]]]) -> dict[str, str]:
    """Rules the hand-written baseline no longer matches (the spec changed): id → why."""
    stale: dict[str, str] = {}
    for policy in built.policies.values():
        for rule in policy.rules:
            if rule.id not in BY_ID:
                stale[rule.id] = "not written out in bench/baseline.py"
                continue
            _, kind, start, end, _ = BY_ID[rule.id]
            spec = (
                rule.fact,
                day_number(rule.effective.effective_from) if rule.effective.effective_from else None,
                day_number(rule.effective.effective_to) if rule.effective.effective_to else None,
            )
            if spec != (kind, start, end):
                stale[rule.id] = "fact kind or effective dates changed"
    hand = {name: HandWritten(policy.rules, name) for name, policy in built.policies.items()}
    for payer, facts in work:
        compiled = Counter((f.rule.id, f.fact["id"]) for f in built._engines[payer].evaluate(facts))
        written = Counter((f.rule.id, f.fact["id"]) for f in hand[payer].evaluate(facts))
        for rule_id, _ in (compiled - written) + (written - compiled):
            stale.setdefault(rule_id, "fires differently from its spec on the benchmark claims")
    return stale


# --- measurements ---------------------------------------------------------------------------


def interleaved(runners: dict[str, Any], rounds: int) -> dict[str, float]:
    """Seconds per runner over ``rounds`` rounds, the order rotating each round."""
    names = list(runners)
    spent = dict.fromkeys(names, 0.0)
    for number in range(rounds):
        order = names[number % len(names) :] + names[: number % len(names)]
        for name in order:
            gc.collect()
            started = time.perf_counter()
            runners[name](number)
            spent[name] += time.perf_counter() - started
    return spent


def engine_only(engines: dict[str, dict[str, Any]], work: list, rounds: int) -> dict[str, float]:
    def runner(payers):
        def run(_round):
            for payer, facts in work:
                payers[payer].evaluate(facts)

        return run

    spent = interleaved({name: runner(payers) for name, payers in engines.items()}, rounds)
    return {name: rounds * len(work) / seconds for name, seconds in spent.items()}


def end_to_end(editors: dict[str, Editor], pool: list[dict], total: int, rounds: int) -> dict[str, float]:
    chunk = total // rounds

    def runner(built: Editor):
        def run(number):
            for _ in built.check_many(stream(pool[(number * chunk) % len(pool) :] + pool, chunk)):
                pass

        return run

    spent = interleaved({name: runner(built) for name, built in editors.items()}, rounds)
    return {name: rounds * chunk / seconds for name, seconds in spent.items()}


def latencies(editors: dict[str, Editor], claims: list[dict]) -> dict[str, list[float]]:
    """Microseconds per single ``check`` call, claim by claim, engines alternating."""
    found: dict[str, list[float]] = {name: [] for name in editors}
    names = list(editors)
    clock = time.perf_counter_ns
    for index, claim in enumerate(claims):
        for name in names[index % 2 :] + names[: index % 2]:
            check = editors[name].check
            started = clock()
            check(claim)
            found[name].append((clock() - started) / 1000)
    return found


def parallel(editors: dict[str, Editor], pool: list[dict], total: int, workers: int) -> dict[str, dict[int, float]]:
    """claims/s through check_many with 1 and with ``workers`` worker processes, per engine.

    Each call starts its workers (about 0.2 s each), as a caller's would: that is counted. A
    warm-up call first starts the forkserver (once per process, about a second)."""
    found: dict[str, dict[int, float]] = {}
    for name in ENGINES:
        found[name] = {}
        for count in (1, workers):
            for _ in editors[name].check_many(pool[:200], workers=count):
                pass
            started = time.perf_counter()
            for _ in editors[name].check_many(stream(pool, total), workers=count):
                pass
            found[name][count] = total / (time.perf_counter() - started)
    return found


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


# --- memory: one child process per engine ------------------------------------------------


def memory_child(engine: str, total: int, pool_size: int, seed: int) -> None:
    """Run ``total`` claims through check_many; print RSS at checkpoints as one JSON line."""
    pool = generate(pool_size, seed)
    built = editor(engine)
    for _ in built.check_many(pool[:200]):  # warm up: first-call allocations are not a leak
        pass
    gc.collect()
    marks = sorted({m for m in (10_000, 100_000, 500_000, total) if m <= total} | {min(1000, total)})
    points = [{"claims": 0, "rss_kib": rss_kib(), "peak_kib": peak_rss_kib(), "seconds": 0.0}]
    started = time.perf_counter()
    for done, _ in enumerate(built.check_many(stream(pool, total)), 1):
        if done == marks[0]:
            marks.pop(0)
            points.append(
                {
                    "claims": done,
                    "rss_kib": rss_kib(),
                    "peak_kib": peak_rss_kib(),
                    "seconds": time.perf_counter() - started,
                }
            )
            if not marks:
                break
    print(json.dumps({"engine": built.engine, "points": points}))


def memory(total: int, pool_size: int, seed: int) -> dict[str, dict]:
    children = {
        engine: subprocess.Popen(
            [
                sys.executable,
                str(Path(__file__).resolve()),
                "--memory-child",
                engine,
                "--claims",
                str(total),
                "--pool",
                str(pool_size),
                "--seed",
                str(seed),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        for engine in ENGINES
    }
    results = {}
    for engine, child in children.items():
        out, _ = child.communicate()
        if child.returncode != 0:
            raise SystemExit(f"the memory run for {engine} failed (exit {child.returncode})")
        results[engine] = json.loads(out.strip().splitlines()[-1])
    return results


# --- profile --------------------------------------------------------------------------------


def profile(engine: str, pool: list[dict]) -> None:
    """Where check_many spends its time: pyinstrument's call tree (pip install -e '.[bench]'),
    else cProfile's functions by own time."""
    built = baseline_editor() if engine == "baseline" else editor(engine)
    for _ in built.check_many(pool[:200]):  # warm up: memos, caches, first-call imports
        pass
    try:
        from pyinstrument import Profiler
    except ImportError:
        Profiler = None
    if Profiler is not None:
        profiler = Profiler(interval=0.0002)
        profiler.start()
        for _ in built.check_many(pool):
            pass
        profiler.stop()
        print(f"\n== pyinstrument: {len(pool)} claims through check_many, {engine} engine ==")
        print(profiler.output_text(unicode=False, color=False, show_all=False))
        return
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()
    for _ in built.check_many(pool):
        pass
    profiler.disable()
    stats = pstats.Stats(profiler, stream=sys.stdout)
    print(f"\n== cProfile: {len(pool)} claims through check_many, {engine} engine, by own time ==")
    stats.sort_stats("tottime").print_stats(15)


# --- the report -----------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--claims", type=int, help="claims in each engine's memory run (default 1,000,000; quick 3,000)"
    )
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run of about 20 s")
    parser.add_argument("--seed", type=int, default=9330)
    parser.add_argument(
        "--profile",
        choices=[*ENGINES, "baseline"],
        help="also profile check_many on this engine (pyinstrument if installed: pip install -e '.[bench]')",
    )
    parser.add_argument(
        "--workers", type=int, help="worker processes for the check_many(workers=N) row (default 2; 1 skips it)"
    )
    parser.add_argument("--memory-child", choices=ENGINES, help=argparse.SUPPRESS)
    parser.add_argument("--pool", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    sizes = dict(SIZES["quick" if args.quick else "full"])
    if args.claims:
        sizes["claims"] = args.claims
    if args.pool:
        sizes["pool"] = args.pool
    if args.memory_child:
        memory_child(args.memory_child, sizes["claims"], sizes["pool"], args.seed)
        return 0

    wall = time.perf_counter()
    print(
        f"j9330-rules benchmark: Python {platform.python_version()} on {platform.machine()}, "
        f"{os.cpu_count()} CPUs; mode {'quick' if args.quick else 'full'}; "
        f"pool of {sizes['pool']} generated claims (seed {args.seed}), fixture CMS files and fee schedule"
    )
    pool = generate(sizes["pool"], args.seed)
    editors = {name: editor(name) for name in ENGINES}
    assert editors["durable"].engine == "durable", "durable-rules is not importable here"
    work = engine_work(editors["compiled"], pool)
    stale = stale_baseline_rules(editors["compiled"], work)
    editors["baseline"] = baseline_editor(frozenset(stale))
    valid = [claim for claim in pool if _valid(claim)]

    sample = pool[: min(len(pool), 1000)]
    same = list(editors["durable"].check_many(sample)) == list(editors["compiled"].check_many(sample))
    print(
        f"checks: durable and compiled results identical on {len(sample)} claims: {'yes' if same else 'NO'}; "
        f"baseline fires as the compiled engine on {len(work)} claims' facts: "
        f"{'yes' if not stale else 'NO, left out of the baseline: ' + ', '.join(f'{k} ({v})' for k, v in sorted(stale.items()))}"
    )
    facts = sum(len(f) for _, f in work) / len(work)
    print(
        f"mix: {len(valid)}/{len(pool)} claims valid, {facts:.1f} facts per valid claim, payers "
        + ", ".join(f"{k} {v}" for k, v in Counter(c["payer"] for c in pool).most_common())
    )

    engines = {name: built._engines for name, built in editors.items()}
    only = engine_only(engines, work, sizes["engine_rounds"])
    full = end_to_end(editors, pool, sizes["end_to_end"], rounds=6 if not args.quick else 3)
    timed = latencies({name: editors[name] for name in ENGINES}, valid[: sizes["latency"]])

    print("\n== throughput, claims/s (rounds interleaved over the same claims; higher is better) ==")
    print(f"{'':24}{'check_many':>14}{'engine only':>14}")
    for name in (*ENGINES, "baseline"):
        print(f"{name + (' (hand-written)' if name == 'baseline' else ''):24}{full[name]:>14,.0f}{only[name]:>14,.0f}")
    print("ratios (engine claims/s / baseline claims/s):")
    for name in ENGINES:
        print(
            f"{name + ' / baseline':24}{full[name] / full['baseline']:>13.2f}x{only[name] / only['baseline']:>13.2f}x"
        )
    print(
        f"{'compiled / durable':24}{full['compiled'] / full['durable']:>13.2f}x{only['compiled'] / only['durable']:>13.2f}x"
    )

    workers = min(2, os.cpu_count() or 1) if args.workers is None else args.workers
    if workers > 1:
        scaled = parallel(editors, pool, sizes["parallel"], workers)
        print(
            f"\n== check_many(workers={workers}) against workers=1, claims/s ({sizes['parallel']:,} claims; "
            f"the parent shares the {os.cpu_count()} cores with the workers) =="
        )
        for name in ENGINES:
            one, many = scaled[name][1], scaled[name][workers]
            print(f"{name:24}{one:>10,.0f} -> {many:>8,.0f}   {many / one:.2f}x")

    print(
        f"\n== latency of one Editor.check call, microseconds ({len(valid[: sizes['latency']])} valid claims each) =="
    )
    for name in ENGINES:
        values = timed[name]
        print(
            f"{name:24}p50 {percentile(values, 0.5):>8,.0f}   p99 {percentile(values, 0.99):>8,.0f}"
            f"   mean {statistics.fmean(values):>8,.0f}"
        )

    print(
        f"\n== memory: {sizes['claims']:,} claims through check_many, one child process per engine (run side by side) =="
    )
    mem = memory(sizes["claims"], sizes["pool"], args.seed)
    for name in ENGINES:
        points = mem[name]["points"]
        end = points[-1]
        at = {p["claims"]: p for p in points}
        line = "   ".join(f"{p['claims']:>7,}: {p['rss_kib'] / 1024:6.1f}" for p in points)
        print(f"{name:10} RSS MiB at claims   {line}")
        hundred = at.get(100_000)
        flat = (
            f"RSS {hundred['rss_kib'] / 1024:.1f} MiB at 100,000 and {end['rss_kib'] / 1024:.1f} at {end['claims']:,} "
            f"({(end['rss_kib'] - hundred['rss_kib']) / 1024:+.1f} MiB)"
            if hundred and end is not hundred
            else "100,000 not reached"
            if not hundred
            else ""
        )
        rate = end["claims"] / end["seconds"] if end["seconds"] else 0
        print(
            f"{'':10} peak RSS (VmHWM) after {end['claims']:,} claims: {end['peak_kib'] / 1024:.1f} MiB; "
            f"{flat}; {rate:,.0f} claims/s while both ran"
        )
    targets(full, only, timed, mem)
    if args.profile:
        profile(args.profile, pool[:2000])
    print(f"\ndone in {time.perf_counter() - wall:.0f} s")
    return 0


def targets(full: dict, only: dict, timed: dict, mem: dict) -> None:
    """The targets of the throughput issue, each with this run's figure and whether it is met."""

    def flat(engine: str) -> tuple[str, bool | None]:
        at = {p["claims"]: p["rss_kib"] for p in mem[engine]["points"]}
        end = max(at)
        if 100_000 not in at or end == 100_000:
            return "100,000 not passed (run without --quick)", None
        change = (at[end] - at[100_000]) / at[100_000]
        return f"{change:+.1%} from 100,000 to {end:,} claims", abs(change) <= 0.10

    rows = [
        ("durable check_many >= 10,000 claims/s per core", f"{full['durable']:,.0f}", full["durable"] >= 10_000),
        ("durable engine only >= 10,000 claims/s per core", f"{only['durable']:,.0f}", only["durable"] >= 10_000),
        (
            "durable p99 check < 2 ms",
            f"{percentile(timed['durable'], 0.99) / 1000:.2f} ms",
            percentile(timed["durable"], 0.99) < 2000,
        ),
        (
            "compiled >= 0.5x baseline, check_many",
            f"{full['compiled'] / full['baseline']:.2f}x",
            full["compiled"] / full["baseline"] >= 0.5,
        ),
        (
            "compiled >= 0.5x baseline, engine only",
            f"{only['compiled'] / only['baseline']:.2f}x",
            only["compiled"] / only["baseline"] >= 0.5,
        ),
        (
            "compiled p99 check < 0.5 ms",
            f"{percentile(timed['compiled'], 0.99) / 1000:.2f} ms",
            percentile(timed["compiled"], 0.99) < 500,
        ),
        *((f"{engine} RSS flat within 10%", *flat(engine)) for engine in ENGINES),
    ]
    print("\n== targets (docs: bench/README.md) ==")
    for name, figure, met in rows:
        print(f"{name:50}{figure:>38}   {'met' if met else 'MISSED' if met is False else '-'}")


def _valid(claim: dict) -> bool:
    try:
        structure_claim(claim)
    except ClaimError:
        return False
    return claim["payer"] in ("medicare", "aetna", "bcbs", "cigna", "uhc")


if __name__ == "__main__":
    raise SystemExit(main())
