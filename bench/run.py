"""Benchmark: the product end to end against a straight-line checker of the whole job, in one run.

    python bench/run.py [--claims N] [--quick] [--no-spark] [--profile ENGINE]

See bench/README.md for what each number means. Everything is measured in this one command:
first the straight-line checker (bench/straight.py) is held to the product's answers on the
whole pool; then throughput through ``Editor.check_many`` (durable and compiled) against it
and against the engine-only baseline (bench/baseline.py), in interleaved rounds over the same
claims so that machine noise falls on every contender alike; ``check_many(workers=N)``; the
latency of single ``Editor.check`` calls; the CLI on an NDJSON file against the library; the
memory of long runs of the library and of the CLI in every output format (each in a fresh
child process); Spark on 1 and 2 local cores (bench/spark_scaling.py); and the targets.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(HERE), str(ROOT)]

from baseline import BY_ID, HandWritten  # noqa: E402
from claims import generate, stream  # noqa: E402
from straight import Straight, outcome  # noqa: E402

from j9330_rules import ClaimError, Editor  # noqa: E402
from j9330_rules.facts.builder import day_number  # noqa: E402
from j9330_rules.model.structure import structure_claim  # noqa: E402
from j9330_rules.writers.formats import WRITERS  # noqa: E402

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
STRAIGHT = "straight-line (whole job)"
BASELINE = "engine-only baseline"
#: Every ``check --format`` the CLI offers.
FORMATS = ("table", *WRITERS)

# pool, engine-only rounds, check_many claims per contender, latency claims, memory run (N, also the
# CLI's long run), claims per workers run, the CLI's short run (its throughput and first RSS point)
SIZES = {
    "full": dict(
        pool=4000,
        engine_rounds=5,
        end_to_end=18_000,
        latency=2000,
        claims=1_000_000,
        parallel=20_000,
        parallel_rounds=3,
        parallel_large=100_000,
        cli=100_000,
    ),
    "quick": dict(
        pool=600,
        engine_rounds=3,
        end_to_end=900,
        latency=300,
        claims=3000,
        parallel=2000,
        parallel_rounds=1,
        parallel_large=0,
        cli=300,
    ),
}
#: Targets that need a batch this large are `-` (not measured) below it.
PARALLEL_TARGET_CLAIMS = 10_000
FLAT_FROM = 100_000
#: Address-space cap on each CLI memory run: a format that came to hold every result would stop
#: there rather than take the shared machine's memory.
CLI_MEMORY_CAP = 6 * 2**30


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


def end_to_end(
    editors: dict[str, Editor], straight: Straight, pool: list[dict], total: int, rounds: int
) -> dict[str, float]:
    """claims/s of each editor's check_many and of the straight-line checker, on the same claims."""
    chunk = total // rounds

    def claims(number):
        return stream(pool[(number * chunk) % len(pool) :] + pool, chunk)

    def runner(built: Editor):
        def run(number):
            for _ in built.check_many(claims(number)):
                pass

        return run

    def by_hand(number):
        check = straight.check
        for claim in claims(number):
            check(claim)

    runners = {name: runner(built) for name, built in editors.items()}
    runners[STRAIGHT] = by_hand
    spent = interleaved(runners, rounds)
    return {name: rounds * chunk / seconds for name, seconds in spent.items()}


def straight_mismatches(built: Editor, straight: Straight, pool: list[dict]) -> list[tuple[int, tuple, tuple]]:
    """(index, the product's answer, the straight-line checker's) wherever they differ on the pool."""
    return [
        (index, expected, got)
        for index, (claim, result) in enumerate(zip(pool, built.check_many(pool)))
        if (expected := outcome(result)) != (got := straight.check(claim))
    ]


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


def machine_busy_seconds() -> float | None:
    """CPU seconds every core of the machine has spent busy so far (/proc/stat: user, nice,
    system, irq, softirq; not idle, iowait or time the hypervisor stole), or None off Linux."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return None
    user, nice, system, _idle, _iowait, irq, softirq = (int(value) for value in fields[:7])
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def parallel(
    editors: dict[str, Editor], pool: list[dict], total: int, workers: int, rounds: int, engines=ENGINES
) -> tuple[dict[str, dict[int, float]], dict[str, dict[int, float | None]]]:
    """claims/s through check_many with 1 and with ``workers`` worker processes, per engine: the
    best of ``rounds`` rounds, one process and the workers alternating (load falls on both);
    and the machine's busy CPU seconds per claim in each (the least of the rounds), which
    bounds the speed-up: ``workers`` cores can give at most ``workers`` x one process's CPU a
    claim / the workers' CPU a claim.

    Each call starts its workers (about 0.2 s each), as a caller's would: that is counted. A
    warm-up call first starts the forkserver (once per process, about a second)."""
    found: dict[str, dict[int, float]] = {}
    cpu: dict[str, dict[int, float | None]] = {}
    for name in engines:
        found[name] = {1: 0.0, workers: 0.0}
        cpu[name] = {1: None, workers: None}
        for _ in editors[name].check_many(pool[:200], workers=workers):
            pass
        for _round in range(rounds):
            for count in (1, workers):
                busy = machine_busy_seconds()
                started = time.perf_counter()
                for _ in editors[name].check_many(stream(pool, total), workers=count):
                    pass
                found[name][count] = max(found[name][count], total / (time.perf_counter() - started))
                after = machine_busy_seconds()
                if busy is not None and after is not None:
                    used = (after - busy) / total
                    cpu[name][count] = used if cpu[name][count] is None else min(cpu[name][count], used)
    return found, cpu


def parallel_row(label: str, rates: dict[int, float], cpu: dict[int, float | None], workers: int) -> str:
    """One workers row: claims/s with one process and with the workers, the speed-up, and the
    CPU a claim in each with the speed-up that allows."""
    one, many = rates[1], rates[workers]
    row = f"{label:24}{one:>10,.0f} -> {many:>8,.0f}   {many / one:.2f}x"
    used_one, used_many = cpu[1], cpu[workers]
    if not used_one or not used_many:
        return row
    return (
        f"{row}   CPU a claim {used_one * 1e6:.0f} -> {used_many * 1e6:.0f} µs (all cores): "
        f"at most {workers * used_one / used_many:.2f}x from {workers} cores"
    )


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


# --- the CLI: throughput and memory, one fresh child per run ----------------------------------

#: Runs a command and prints its exit code, wall seconds and peak RSS (KiB). Only the standard
#: library is imported, so that this small launcher, not the benchmark's big parent, is what the
#: CLI's process is forked from: Linux's ru_maxrss keeps the pre-exec image's high-water mark.
LAUNCHER = """
import resource, subprocess, sys, time
cap = int(sys.argv[1])
if cap:
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
started = time.perf_counter()
code = subprocess.call(sys.argv[2:])
print(code, time.perf_counter() - started, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def cli_command(fmt: str, source: Path, output: Path) -> list[str]:
    """``j9330-rules check`` with the reference files ``editor()`` loads, as CLI options."""
    found = shutil.which("j9330-rules", path=str(Path(sys.executable).parent)) or shutil.which("j9330-rules")
    command = [found] if found else [sys.executable, "-m", "j9330_rules"]
    command += ["--no-config", "check", "--fail-on", "never", "--format", fmt]
    command += ["--asp-file", str(REFERENCE["asp_file"]), "--crosswalk-file", str(REFERENCE["crosswalk_file"])]
    for path in REFERENCE["mue_file"]:
        command += ["--mue-file", str(path)]
    command += ["--fee-schedule", str(REFERENCE["fee_schedule"]), "-o", str(output), str(source)]
    return command


def write_ndjson(pool: list[dict], count: int, path: Path) -> Path:
    """``count`` claims of ``stream(pool, count)``, one JSON object a line: the library's claims, as a file."""
    with path.open("w", encoding="utf-8") as out:
        for claim in stream(pool, count):
            out.write(json.dumps(claim) + "\n")
    return path


class CliRun:
    """One CLI run in a fresh child (through LAUNCHER): wall seconds and peak RSS."""

    def __init__(self, fmt: str, source: Path, claims: int, workdir: Path, cap: int = 0):
        self.fmt, self.claims = fmt, claims
        self.output = workdir / f"out-{fmt}-{claims}"
        self.errors = (workdir / f"err-{fmt}-{claims}").open("w+")
        env = {k: v for k, v in os.environ.items() if not k.startswith("J9330_RULES_")}
        command = [sys.executable, "-c", LAUNCHER, str(cap), *cli_command(fmt, source, self.output)]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=self.errors, text=True, env=env)

    def result(self) -> dict:
        out, _ = self.process.communicate()
        self.errors.seek(0)
        errors = self.errors.read()
        self.errors.close()
        self.output.unlink(missing_ok=True)
        try:
            code, seconds, peak = out.split()
        except ValueError:
            code, seconds, peak = "launcher failed", "0", "0"
        found = {"format": self.fmt, "claims": self.claims, "exit": code, "seconds": float(seconds)}
        found["peak_kib"] = int(peak)
        found["error"] = errors.strip().splitlines()[-1] if code != "0" and errors.strip() else ""
        return found


def cli_throughput(pool: list[dict], built: Editor, count: int, workdir: Path) -> dict:
    """The CLI's claims/s (wall time, ndjson to a file) against check_many's on the same claims:
    the library before and after the CLI, so that both share the machine's state."""
    source = write_ndjson(pool, count, workdir / f"claims-{count}.ndjson")

    def library() -> float:
        gc.collect()
        started = time.perf_counter()
        for _ in built.check_many(stream(pool, count)):
            pass
        return time.perf_counter() - started

    before = library()
    run = CliRun("ndjson", source, count, workdir).result()
    after = library()
    return {
        "cli": run,
        "library": 2 * count / (before + after),
        "rate": count / run["seconds"] if run["seconds"] else 0,
    }


def cli_memory(pool: list[dict], sizes: tuple[int, ...], workdir: Path, reuse: dict | None) -> dict[str, list[dict]]:
    """Peak RSS of the CLI per format on each file size, two children at a time."""
    sources = {}
    for count in sizes:
        path = workdir / f"claims-{count}.ndjson"
        sources[count] = path if path.exists() else write_ndjson(pool, count, path)
    jobs = [(fmt, count) for fmt in FORMATS for count in sizes if not (reuse and (fmt, count) == ("ndjson", sizes[0]))]
    found: dict[str, list[dict]] = {fmt: [] for fmt in FORMATS}
    if reuse:
        found["ndjson"].append(reuse)
    running: list[CliRun] = []
    while jobs or running:
        if jobs and len(running) < 2:
            fmt, count = jobs.pop(0)
            running.append(CliRun(fmt, sources[count], count, workdir, cap=CLI_MEMORY_CAP))
            continue
        for run in running:
            if run.process.poll() is not None:
                running.remove(run)
                found[run.fmt].append(run.result())
                break
        else:
            time.sleep(0.2)
    for runs in found.values():
        runs.sort(key=lambda run: run["claims"])
    return found


# --- Spark: bench/spark_scaling.py in its own processes ----------------------------------------


def spark_available() -> str | None:
    """Why Spark cannot run here, or None when it can."""
    if importlib.util.find_spec("pyspark") is None:
        return "pyspark not installed (pip install -e '.[spark]')"
    if shutil.which("java") is None:
        return "no java on PATH"
    return None


def spark() -> dict:
    """Run bench/spark_scaling.py (its defaults), echo what it prints, and read its ratio."""
    done = subprocess.run([sys.executable, str(HERE / "spark_scaling.py")], capture_output=True, text=True)
    print(done.stdout.rstrip())
    ratio = re.search(r"^ratio (\S+) / (\S+): ([0-9.]+)x$", done.stdout, re.MULTILINE)
    if done.returncode != 0 or not ratio:
        print(f"spark_scaling.py failed (exit {done.returncode}): {done.stderr.strip()[-1500:]}")
        return {"error": f"failed (exit {done.returncode})"}
    return {"ratio": float(ratio.group(3)), "masters": (ratio.group(2), ratio.group(1))}


# --- profile --------------------------------------------------------------------------------


def profile(engine: str, pool: list[dict]) -> None:
    """Where check_many spends its time: pyinstrument's call tree (pip install -e '.[bench]'),
    else cProfile's functions by own time."""
    if engine == "straight":
        built = editor("compiled")
        checker = Straight(built.reference, built.policies)

        def work():
            for _ in checker.check_many(pool):
                pass
    else:
        built = baseline_editor() if engine == "baseline" else editor(engine)

        def work():
            for _ in built.check_many(pool):
                pass

    for _ in built.check_many(pool[:200]):  # warm up: memos, caches, first-call imports
        pass
    try:
        from pyinstrument import Profiler
    except ImportError:
        Profiler = None
    if Profiler is not None:
        profiler = Profiler(interval=0.0002)
        profiler.start()
        work()
        profiler.stop()
        print(f"\n== pyinstrument: {len(pool)} claims through check_many, {engine} ==")
        print(profiler.output_text(unicode=False, color=False, show_all=False))
        return
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()
    work()
    profiler.disable()
    stats = pstats.Stats(profiler, stream=sys.stdout)
    print(f"\n== cProfile: {len(pool)} claims through check_many, {engine}, by own time ==")
    stats.sort_stats("tottime").print_stats(15)


# --- the report -----------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--claims",
        type=int,
        help="claims in each memory run: the library's per engine and the CLI's long run (default 1,000,000; quick 3,000)",
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, no Spark: a smoke run of about 30 s")
    parser.add_argument("--seed", type=int, default=9330)
    parser.add_argument("--no-spark", action="store_true", help="skip bench/spark_scaling.py (its target shows -)")
    parser.add_argument(
        "--profile",
        choices=[*ENGINES, "baseline", "straight"],
        help="also profile check_many on this engine or checker (pyinstrument if installed: pip install -e '.[bench]')",
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
        f"{os.cpu_count()} CPUs (load average {os.getloadavg()[0]:.1f}); mode {'quick' if args.quick else 'full'}; "
        f"pool of {sizes['pool']} generated claims (seed {args.seed}), fixture CMS files and fee schedule"
    )
    pool = generate(sizes["pool"], args.seed)
    editors = {name: editor(name) for name in ENGINES}
    assert editors["durable"].engine == "durable", "durable-rules is not importable here"
    work = engine_work(editors["compiled"], pool)
    stale = stale_baseline_rules(editors["compiled"], work)
    editors["baseline"] = baseline_editor(frozenset(stale))
    straight = Straight(editors["compiled"].reference, editors["compiled"].policies)
    valid = [claim for claim in pool if _valid(claim)]

    sample = pool[: min(len(pool), 1000)]
    same = list(editors["durable"].check_many(sample)) == list(editors["compiled"].check_many(sample))
    print(
        f"checks: durable and compiled results identical on {len(sample)} claims: {'yes' if same else 'NO'}; "
        f"the engine-only baseline fires as the compiled engine on {len(work)} claims' facts: "
        f"{'yes' if not stale else 'NO, left out of the baseline: ' + ', '.join(f'{k} ({v})' for k, v in sorted(stale.items()))}"
    )
    mismatches = straight_mismatches(editors["compiled"], straight, pool)
    answers = Counter(
        "error" if answer == ("error",) else "findings" if answer[0] else "clean"
        for answer in map(straight.check, pool)
    )
    print(
        f"checks: straight-line checker against the product (compiled, check_many) on the whole pool: "
        f"{len(pool)} claims compared ({answers['clean']} clean, {answers['findings']} with findings, "
        f"{answers['error']} errors), {len(mismatches)} mismatch{'es' if len(mismatches) != 1 else ''} "
        f"(compared: error, or every finding's (code, line, severity) and the allowed amount)"
        + (f"; spec rules it does not write out: {', '.join(straight.missing)}" if straight.missing else "")
    )
    for index, expected, got in mismatches[:20]:
        print(f"  MISMATCH claim {index}: product {expected!r}; straight-line {got!r}")
    if len(mismatches) > 20:
        print(f"  ... and {len(mismatches) - 20} more")
    facts = sum(len(f) for _, f in work) / len(work)
    print(
        f"mix: {len(valid)}/{len(pool)} claims valid, {facts:.1f} facts per valid claim, payers "
        + ", ".join(f"{k} {v}" for k, v in Counter(c["payer"] for c in pool).most_common())
    )

    engines = {name: built._engines for name, built in editors.items()}
    only = engine_only(engines, work, sizes["engine_rounds"])
    full = end_to_end(editors, straight, pool, sizes["end_to_end"], rounds=6 if not args.quick else 3)
    timed = latencies({name: editors[name] for name in ENGINES}, valid[: sizes["latency"]])

    print(
        f"\n== throughput, claims/s ({sizes['end_to_end']:,} claims each, rounds interleaved over the same claims; "
        "higher is better) =="
    )
    print(f"{'':34}{'check_many':>14}{'engine only':>14}")
    labels = {"durable": "durable", "compiled": "compiled", "baseline": BASELINE}
    for name, label in labels.items():
        print(f"{label:34}{full[name]:>14,.0f}{only[name]:>14,.0f}")
    print(f"{STRAIGHT:34}{full[STRAIGHT]:>14,.0f}{'-':>14}")
    print("ratios against the straight-line checker of the whole job (claims/s / its claims/s), end to end:")
    for name in ENGINES:
        print(f"{name + ' / straight-line':34}{full[name] / full[STRAIGHT]:>13.2f}x")
    print("ratios against the engine-only baseline (same pipeline, rules as hand-written predicates):")
    for name in ENGINES:
        print(
            f"{name + ' / baseline (engine-only)':34}{full[name] / full['baseline']:>13.2f}x"
            f"{only[name] / only['baseline']:>13.2f}x"
        )
    print(
        f"{'compiled / durable':34}{full['compiled'] / full['durable']:>13.2f}x{only['compiled'] / only['durable']:>13.2f}x"
    )

    workers = min(2, os.cpu_count() or 1) if args.workers is None else args.workers
    scaled = None
    if workers > 1:
        scaled, scaled_cpu = parallel(editors, pool, sizes["parallel"], workers, sizes["parallel_rounds"])
        print(
            f"\n== check_many(workers={workers}) against workers=1, claims/s ({sizes['parallel']:,} claims, best of "
            f"{sizes['parallel_rounds']} alternating rounds; the parent shares the {os.cpu_count()} cores "
            "with the workers) =="
        )
        for name in ENGINES:
            print(parallel_row(name, scaled[name], scaled_cpu[name], workers))
        if sizes["parallel_large"]:
            rates, used = parallel(editors, pool, sizes["parallel_large"], workers, 1, engines=("compiled",))
            label = f"compiled, {sizes['parallel_large']:,} claims"
            print(parallel_row(label, rates["compiled"], used["compiled"], workers))

    print(
        f"\n== latency of one Editor.check call, microseconds ({len(valid[: sizes['latency']])} valid claims each) =="
    )
    for name in ENGINES:
        values = timed[name]
        print(
            f"{name:24}p50 {percentile(values, 0.5):>8,.0f}   p99 {percentile(values, 0.99):>8,.0f}"
            f"   mean {statistics.fmean(values):>8,.0f}"
        )

    with tempfile.TemporaryDirectory(prefix="j9330-bench-") as scratch:
        workdir = Path(scratch)
        cli = cli_throughput(pool, editors["compiled"], sizes["cli"], workdir)
        run = cli["cli"]
        print(
            f"\n== the CLI: j9330-rules --no-config check --fail-on never --format ndjson -o FILE, "
            f"{sizes['cli']:,} claims of NDJSON, wall time in a fresh process =="
        )
        print(
            f"{'CLI (ndjson to a file)':28}{cli['rate']:>10,.0f} claims/s   {run['seconds']:.1f} s, "
            f"peak RSS {run['peak_kib'] / 1024:.1f} MiB"
            + (f"; exit {run['exit']}: {run['error']}" if run["exit"] != "0" else "")
        )
        print(
            f"{'library check_many':28}{cli['library']:>10,.0f} claims/s   (compiled, the same claims, "
            f"before and after the CLI)   CLI / library {cli['rate'] / cli['library']:.2f}x"
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
            hundred = at.get(FLAT_FROM)
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

        cli_sizes = (sizes["cli"], min(sizes["claims"], 1000) if args.quick else sizes["claims"])
        print(
            f"\n== memory of the CLI: peak RSS per --format on {cli_sizes[0]:,} and {cli_sizes[1]:,} claims of NDJSON "
            f"(a fresh process each, output to a file; two at a time, address space capped at "
            f"{CLI_MEMORY_CAP / 2**30:.0f} GiB) =="
        )
        cli_mem = cli_memory(pool, cli_sizes, workdir, reuse=run if run["exit"] == "0" else None)
        for fmt, runs in cli_mem.items():
            cells = "   ".join(
                f"{r['claims']:>9,}: {r['peak_kib'] / 1024:7.1f} MiB in {r['seconds']:5.1f} s"
                + ("" if r["exit"] == "0" else f" (exit {r['exit']}: {r['error'][:60]})")
                for r in runs
            )
            print(f"{fmt:12} {cells}")

    spark_result: dict | None = None
    why_not = "--quick" if args.quick else "--no-spark" if args.no_spark else spark_available()
    print("\n== Spark: bench/spark_scaling.py (local[1] against local[2]) ==")
    if why_not:
        print(f"skipped: {why_not}")
    else:
        spark_result = spark()

    targets(
        full=full,
        only=only,
        timed=timed,
        mem=mem,
        scaled=scaled,
        workers=workers,
        sizes=sizes,
        cli=cli,
        cli_mem=cli_mem,
        spark_result=spark_result,
        mismatches=len(mismatches),
    )
    if args.profile:
        profile(args.profile, pool[:2000])
    print(f"\ndone in {time.perf_counter() - wall:.0f} s")
    return 0


def targets(
    *,
    full: dict,
    only: dict,
    timed: dict,
    mem: dict,
    scaled: dict | None,
    workers: int,
    sizes: dict,
    cli: dict,
    cli_mem: dict,
    spark_result: dict | None,
    mismatches: int,
) -> None:
    """The targets of the throughput issues, each with this run's figure: met, MISSED or - (not measured)."""

    def flat(at: dict[int, int], end: int) -> tuple[str, bool | None]:
        if FLAT_FROM not in at or end <= FLAT_FROM or end not in at:
            return f"not measured ({end:,} claims; needs {FLAT_FROM:,}+)", None
        change = (at[end] - at[FLAT_FROM]) / at[FLAT_FROM]
        return f"{change:+.1%} from {FLAT_FROM:,} to {end:,} claims", abs(change) <= 0.10

    def library_flat(engine: str) -> tuple[str, bool | None]:
        at = {p["claims"]: p["rss_kib"] for p in mem[engine]["points"]}
        return flat(at, max(at))

    def cli_flat(fmt: str) -> tuple[str, bool | None]:
        runs = cli_mem[fmt]
        failed = [r for r in runs if r["exit"] != "0"]
        if failed and sizes["cli"] >= FLAT_FROM:
            worst = failed[-1]
            return f"{worst['claims']:,} claims: exit {worst['exit']} (over the memory cap?)", False
        return flat({r["claims"]: r["peak_kib"] for r in runs}, sizes["claims"])

    compiled_straight = full["compiled"] / full[STRAIGHT]
    p99 = percentile(timed["compiled"], 0.99)
    rows: list[tuple[str, str, bool | None]] = [
        ("straight-line checker = product on the pool", f"{mismatches} mismatches", mismatches == 0),
        ("compiled check_many >= 0.5x straight-line", f"{compiled_straight:.2f}x", compiled_straight >= 0.5),
        ("compiled p99 Editor.check < 0.5 ms", f"{p99 / 1000:.2f} ms", p99 < 500),
    ]
    if scaled is None:
        rows.append(("check_many(workers=2) >= 1.7x one process", "not run (--workers 1)", None))
    else:
        speedup = scaled["compiled"][workers] / scaled["compiled"][1]
        enough = sizes["parallel"] >= PARALLEL_TARGET_CLAIMS and workers == 2
        rows.append(
            (
                f"check_many(workers={workers}) >= 1.7x one process",
                f"{speedup:.2f}x on {sizes['parallel']:,} claims (compiled)",
                speedup >= 1.7 if enough else None,
            )
        )
    cli_ratio = cli["rate"] / cli["library"] if cli["cli"]["exit"] == "0" else 0.0
    rows.append(
        (
            "CLI ndjson >= 0.5x library check_many",
            f"{cli_ratio:.2f}x on {sizes['cli']:,} claims",
            cli_ratio >= 0.5 if sizes["cli"] >= FLAT_FROM or cli_ratio == 0 else None,
        )
    )
    rows += [(f"library RSS flat within 10% ({engine})", *library_flat(engine)) for engine in ENGINES]
    rows += [(f"CLI RSS flat within 10% (--format {fmt})", *cli_flat(fmt)) for fmt in FORMATS]
    if spark_result is None:
        rows.append(("Spark local[1] -> local[2] >= 1.8x", "not run", None))
    elif "error" in spark_result:
        rows.append(("Spark local[1] -> local[2] >= 1.8x", spark_result["error"], False))
    else:
        rows.append(
            ("Spark local[1] -> local[2] >= 1.8x", f"{spark_result['ratio']:.2f}x", spark_result["ratio"] >= 1.8)
        )
    rows += [
        (
            "compiled engine only >= 0.5x engine-only baseline",
            f"{only['compiled'] / only['baseline']:.2f}x",
            only["compiled"] / only["baseline"] >= 0.5,
        ),
        ("durable check_many >= 10,000 claims/s per core", f"{full['durable']:,.0f}", full["durable"] >= 10_000),
        ("durable engine only >= 10,000 claims/s per core", f"{only['durable']:,.0f}", only["durable"] >= 10_000),
        (
            "durable p99 Editor.check < 2 ms",
            f"{percentile(timed['durable'], 0.99) / 1000:.2f} ms",
            percentile(timed["durable"], 0.99) < 2000,
        ),
    ]
    print("\n== targets (docs: bench/README.md) ==")
    for name, figure, met in rows:
        print(f"{name:52}{figure:>44}   {'met' if met else 'MISSED' if met is False else '-'}")


def _valid(claim: dict) -> bool:
    try:
        structure_claim(claim)
    except ClaimError:
        return False
    return claim["payer"] in ("medicare", "aetna", "bcbs", "cigna", "uhc")


if __name__ == "__main__":
    raise SystemExit(main())
