"""A bounded load run of the HTTP service against in-process ``Editor.check``, in one run.

    python bench/service_load.py                      # 20,000 requests from 8 clients, 1 worker
    python bench/service_load.py --requests 4000 --workers 2 --batch 5000

Starts the real server (``python -m j9330_rules serve``) on a free 127.0.0.1 port, waits for
/readyz, sends ``--requests`` POST /v1/claims:check from ``--clients`` threads (httpx, one
keep-alive connection each), then one ``--batch``-claim POST /v1/claims:batch, stops the server
and prints claims/s and p50/p99 latency beside in-process ``Editor.check`` over the same claims.
It stops by itself: every phase has a fixed count. The clients share this process's interpreter,
so on a small machine they and the server compete for the cores: the figures are a floor.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def claims() -> list[dict]:
    from j9330_rules import ClaimError, Editor
    from j9330_rules.readers import read_paths

    editor = Editor()
    valid = []
    for item in read_paths([str(ROOT / "examples")], None):
        try:
            editor.check(item)
        except (ClaimError, TypeError):
            continue
        valid.append(item)
    return valid


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def in_process(items: list[dict], count: int) -> dict:
    from j9330_rules import Editor

    editor = Editor()
    latencies = []
    started = time.perf_counter()
    for n in range(count):
        begin = time.perf_counter()
        editor.check(items[n % len(items)])
        latencies.append(time.perf_counter() - begin)
    elapsed = time.perf_counter() - started
    return {
        "claims_per_s": count / elapsed,
        "p50_ms": percentile(latencies, 0.5) * 1e3,
        "p99_ms": percentile(latencies, 0.99) * 1e3,
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(workers: int, batch: int) -> tuple[subprocess.Popen, str]:
    import httpx

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("J9330_RULES_")}
    command = [sys.executable, "-m", "j9330_rules", "--no-config", "serve", "--port", str(port)]
    command += ["--workers", str(workers), "--max-batch-claims", str(max(batch, 1)), "--max-body-bytes", str(1 << 30)]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return process, url
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit("the server did not become ready in 60 s")


def over_http(url: str, items: list[dict], requests: int, clients: int) -> dict:
    import httpx

    bodies = [json.dumps(item).encode() for item in items]
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors = [0] * clients

    def client(index: int) -> None:
        with httpx.Client(base_url=url, timeout=30, headers={"Content-Type": "application/json"}) as session:
            for n in range(index, requests, clients):
                begin = time.perf_counter()
                response = session.post("/v1/claims:check", content=bodies[n % len(bodies)])
                latencies[index].append(time.perf_counter() - begin)
                errors[index] += response.status_code != 200

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    every = [value for values in latencies for value in values]
    return {
        "claims_per_s": len(every) / elapsed,
        "p50_ms": percentile(every, 0.5) * 1e3,
        "p99_ms": percentile(every, 0.99) * 1e3,
        "errors": sum(errors),
    }


def batch_run(url: str, items: list[dict], count: int) -> dict:
    import httpx

    body = b"".join(json.dumps(items[n % len(items)]).encode() + b"\n" for n in range(count))
    started = time.perf_counter()
    with httpx.Client(base_url=url, timeout=300) as session:
        response = session.post("/v1/claims:batch", content=body)
    elapsed = time.perf_counter() - started
    lines = response.text.splitlines()
    assert response.status_code == 200 and len(lines) == count, (response.status_code, len(lines))
    return {"claims_per_s": count / elapsed, "seconds": elapsed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--batch", type=int, default=10_000, help="claims in the one batch request (0: none)")
    args = parser.parse_args()

    items = claims()
    local = in_process(items, args.requests)
    process, url = start(args.workers, args.batch)
    try:
        over_http(url, items, min(args.requests, 200), args.clients)  # warm-up, not counted
        http = over_http(url, items, args.requests, args.clients)
        batch = batch_run(url, items, args.batch) if args.batch else None
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()

    print(f"{os.cpu_count()} CPUs; {len(items)} example claims cycled; server workers: {args.workers}")
    print(f"{'':34} {'claims/s':>10} {'p50 ms':>8} {'p99 ms':>8}")
    print(
        f"{'in-process Editor.check':34} {local['claims_per_s']:>10,.0f} {local['p50_ms']:>8.2f} {local['p99_ms']:>8.2f}"
    )
    label = f"HTTP /v1/claims:check, {args.clients} clients"
    print(f"{label:34} {http['claims_per_s']:>10,.0f} {http['p50_ms']:>8.2f} {http['p99_ms']:>8.2f}")
    if batch:
        label = f"HTTP /v1/claims:batch, {args.batch} claims"
        print(f"{label:34} {batch['claims_per_s']:>10,.0f} {'':>8} {'':>8}")
    print(
        f"{args.requests} requests, {http['errors']} not 200; HTTP/in-process throughput: {http['claims_per_s'] / local['claims_per_s']:.2f}"
    )
    if http["errors"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
