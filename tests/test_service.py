"""The HTTP service, as a client sees it: the real server (``python -m j9330_rules serve``) on
127.0.0.1, driven with httpx. Skipped only when the [service] extra is not installed."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import jsonschema
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
httpx = pytest.importorskip("httpx")

from j9330_rules import ClaimError, Editor  # noqa: E402
from j9330_rules.readers import Unreadable, read_paths  # noqa: E402
from j9330_rules.schemas import claim_schema, result_schema  # noqa: E402
from j9330_rules.writers.serialise import result_to_dict  # noqa: E402
from tests.conftest import EXAMPLES, ROOT  # noqa: E402

KEY = "test-key-0123456789abcdef"
SECRET = "PHI-SECRET-7731"  # a claim value that must never come back or reach the log
RESULT = jsonschema.Draft202012Validator(result_schema(), format_checker=jsonschema.FormatChecker())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    def __init__(self, tmp: Path, *args: str, keys: bool = False):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tmp / f"server-{self.port}.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("J9330_RULES_")}
        command = [sys.executable, "-m", "j9330_rules", "--no-config", "serve", "--port", str(self.port), *args]
        if keys:
            keys_file = tmp / "keys.txt"
            keys_file.write_text(f"# the test's key\n{KEY}\n")
            command += ["--api-keys-file", str(keys_file)]
        self.headers = {"Authorization": f"Bearer {KEY}"} if keys else {}
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        self.wait_ready()

    def wait_ready(self, seconds: float = 40) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"the server exited: {self.log.read_text()}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"the server did not become ready: {self.log.read_text()}")

    def client(self, **options) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers=self.headers, timeout=30, **options)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    running = Server(
        tmp_path_factory.mktemp("service"), "--max-body-bytes", "262144", "--max-batch-claims", "50", keys=True
    )
    yield running
    running.stop()


@pytest.fixture(scope="module")
def reference() -> Editor:
    return Editor()


def examples() -> list:
    return [item for item in read_paths([str(EXAMPLES)], None) if not isinstance(item, Unreadable)]


def expected(editor: Editor, claim) -> tuple[int, dict]:
    """What /v1/claims:check answers: Editor.check's result as the CLI's json, or its ClaimError's paths."""
    try:
        return 200, as_json(editor.check(claim))
    except ClaimError as exc:
        return 422, {
            "error": "invalid_claim",
            "message": "the claim cannot be checked",
            "problems": [
                {"path": part.split(": ", 1)[0], "problem": part.split(": ", 1)[1]} for part in str(exc).split("; ")
            ],
        }


def as_json(result) -> dict:
    return json.loads(json.dumps(result_to_dict(result)))


def batch_expected(editor: Editor, claims) -> list[dict]:
    """What /v1/claims:batch answers: check_many's results, as the CLI's ndjson."""
    return [as_json(result) for result in editor.check_many(claims)]


def ndjson(claims) -> bytes:
    return b"".join(json.dumps(claim).encode() + b"\n" for claim in claims)


# -- results ------------------------------------------------------------------------------------


def test_every_example_claim_checks_as_editor_check_does(server, reference):
    claims = examples()
    checked = 0
    with server.client() as client:
        for claim in claims:
            response = client.post("/v1/claims:check", json=claim)
            status, body = expected(reference, claim)
            assert (response.status_code, response.json()) == (status, body), claim["claim_id"]
            assert response.headers["content-type"] == "application/json"
            if status == 200:
                RESULT.validate(response.json())
                checked += 1
    assert checked >= 10


def test_a_batch_streams_one_result_per_line_as_the_cli(server, reference):
    claims = examples()
    body = ndjson(claims[:3]) + b"{not json\n\n" + ndjson(claims[3:])
    with server.client() as client:
        response = client.post("/v1/claims:batch", content=body, headers={"Content-Type": "application/x-ndjson"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/x-ndjson")
    assert response.headers["x-j9330-claims"] == str(len(claims) + 1)
    lines = response.text.splitlines()
    assert len(lines) == len(claims) + 1
    got = [json.loads(line) for line in lines]
    for item in got:
        RESULT.validate(item)
    assert got[:3] + got[4:] == batch_expected(reference, claims)
    assert got[3]["error"].startswith("request line 4: not valid JSON") and got[3]["claim_id"] is None
    assert got[3]["disposition"] == "not_checked"


def test_an_invalid_claim_in_a_batch_is_its_error_result(server):
    with server.client() as client:
        response = client.post("/v1/claims:batch", content=ndjson([{"claim_id": "B1", "payer": "medicare"}, [SECRET]]))
    first, second = (json.loads(line) for line in response.text.splitlines())
    assert first["claim_id"] == "B1" and "$.lines" in first["error"]
    assert second["error"] and SECRET not in response.text


def test_payers_edits_and_explain(server, reference):
    with server.client() as client:
        payers = client.get("/v1/payers").json()["payers"]
        assert {p["name"] for p in payers} == set(reference.payers)
        assert all(p["rulesets"] for p in payers)
        edits = client.get("/v1/edits").json()["edits"]
        assert "JWJZ_MISSING" in {e["code"] for e in edits}
        explained = client.get("/v1/edits/jwjz_missing").json()
        assert explained["code"] == "JWJZ_MISSING" and explained["carc"]
        assert {r["rule_id"] for r in explained["rules"]} >= {"NAT-JWJZ-MISSING"}
        assert set(explained["not_raised_for"]) | {r["payer"] for r in explained["rules"]} == set(reference.payers)
        unknown = client.get("/v1/edits/NOPE")
        assert unknown.status_code == 404 and "JWJZ_MISSING" in unknown.json()["codes"]


def test_health_and_readiness_need_no_key(server):
    assert httpx.get(f"{server.url}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{server.url}/readyz").json()
    assert ready["status"] == "ready" and ready["payers"] >= 6


def test_the_openapi_document_carries_the_generated_schemas(server):
    document = httpx.get(f"{server.url}/openapi.json").json()
    assert document["openapi"].startswith("3.1")
    for path in (
        "/v1/claims:check",
        "/v1/claims:batch",
        "/v1/payers",
        "/v1/edits",
        "/v1/edits/{code}",
        "/healthz",
        "/readyz",
    ):
        assert path in document["paths"], path
    check = document["paths"]["/v1/claims:check"]["post"]
    assert check["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Claim"}
    assert check["responses"]["200"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Result"}
    components = document["components"]["schemas"]
    generated = claim_schema()
    assert components["Claim"]["properties"].keys() == generated["properties"].keys()
    assert set(generated["$defs"]) <= set(components) and set(result_schema()["$defs"]) <= set(components)
    # the components validate what the models do: every example claim, and its result
    root = {"$schema": "https://json-schema.org/draft/2020-12/schema", "components": document["components"]}
    claim = jsonschema.Draft202012Validator({**root, "$ref": "#/components/schemas/Claim"})
    result = jsonschema.Draft202012Validator({**root, "$ref": "#/components/schemas/Result"})
    with server.client() as client:
        for item in examples():
            claim.validate(item)
            response = client.post("/v1/claims:check", json=item)
            if response.status_code == 200:
                result.validate(response.json())
    from openapi_spec_validator import validate  # the [test] extra installs it

    validate(document)


# -- refused requests ----------------------------------------------------------------------------


def test_malformed_json_is_400_and_quotes_nothing(server):
    with server.client() as client:
        response = client.post("/v1/claims:check", content=b'{"claim_id": "' + SECRET.encode() + b'", ')
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_json" and SECRET not in response.text


def test_an_invalid_claim_is_422_with_paths_and_no_values(server):
    claim = {
        "claim_id": "X1",
        "payer": "medicare",
        "diagnoses": [SECRET],
        "patient": {"birth_date": SECRET},
        "lines": [{"hcpcs": "J9330", "service_date": SECRET, "units": SECRET}],
    }
    with server.client() as client:
        response = client.post("/v1/claims:check", json=claim)
        not_an_object = client.post("/v1/claims:check", json=[claim])
        unmapped = client.post("/v1/claims:check", json={**claim, "payer": None, "payer_id": "ZZ999"})
    assert response.status_code == 422
    paths = {p["path"] for p in response.json()["problems"]}
    assert {"$.diagnoses", "$.patient.birth_date", "$.lines[0].service_date", "$.lines[0].units"} <= paths
    assert SECRET not in response.text
    assert not_an_object.status_code == 422 and not_an_object.json()["problems"] == [
        {"path": "$", "problem": "expected an object"}
    ]
    assert unmapped.status_code == 422 and "ZZ999" not in unmapped.text and SECRET not in unmapped.text


def test_an_oversized_body_is_413(server):
    big = {"claim_id": "BIG", "payer": "medicare", "lines": [], "padding": "x" * 300_000}
    with server.client() as client:
        response = client.post("/v1/claims:check", json=big)
        assert response.status_code == 413 and response.json()["limit"] == 262144
        chunked = client.post("/v1/claims:batch", content=iter([b"x" * 100_000] * 3))  # no Content-Length
        assert chunked.status_code == 413


def test_a_batch_over_the_claim_limit_is_413(server):
    claim = examples()[0]
    with server.client() as client:
        response = client.post("/v1/claims:batch", content=ndjson([claim] * 51))
        assert response.status_code == 413 and response.json() == {
            "error": "too_many_claims",
            "message": "a batch holds at most 50 claims",
            "limit": 50,
        }
        assert client.post("/v1/claims:batch", content=ndjson([claim] * 50)).status_code == 200
        assert client.post("/v1/claims:batch", content=b"\n\n").status_code == 422


def test_requests_without_a_valid_key_are_401(server):
    claim = examples()[0]
    for headers in ({}, {"Authorization": "Bearer wrong-key-0123456789abcdef"}, {"Authorization": KEY}):
        for method, path in (
            ("POST", "/v1/claims:check"),
            ("POST", "/v1/claims:batch"),
            ("GET", "/v1/payers"),
            ("GET", "/v1/edits"),
        ):
            response = httpx.request(method, f"{server.url}{path}", json=claim, headers=headers)
            assert response.status_code == 401, (headers, path)
            assert response.headers["www-authenticate"] == "Bearer"


def test_the_access_log_has_route_status_latency_and_request_id_never_claims(server):
    with server.client() as client:
        response = client.post(
            "/v1/claims:check",
            json={"claim_id": SECRET, "payer": "medicare", "lines": [{}]},
            headers={"X-Request-ID": "req-42"},
        )
        assert response.headers["x-request-id"] == "req-42"
        assert client.get("/v1/edits/units_over_mue").status_code == 200
    time.sleep(0.2)
    log = server.log.read_text()
    assert "method=POST route=/v1/claims:check status=422 latency_ms=" in log and "request_id=req-42" in log
    assert "route=/v1/edits/{code} status=200" in log
    assert SECRET not in log and "units_over_mue" not in log and KEY not in log


# -- load and failure -----------------------------------------------------------------------------


def test_eight_concurrent_clients_get_their_own_results(server, reference):
    claims = examples()
    want = {claim["claim_id"]: expected(reference, claim) for claim in claims}
    want_batch = batch_expected(reference, claims)
    failures: list = []

    def client_run(offset: int) -> None:
        try:
            with server.client() as client:
                for step in range(30):
                    claim = claims[(offset + step) % len(claims)]
                    response = client.post("/v1/claims:check", json=claim)
                    if (response.status_code, response.json()) != want[claim["claim_id"]]:
                        failures.append((offset, step, response.status_code))
                batch = client.post("/v1/claims:batch", content=ndjson(claims))
                if [json.loads(line) for line in batch.text.splitlines()] != want_batch:
                    failures.append((offset, "batch"))
        except Exception as exc:  # reported below, with the thread
            failures.append((offset, repr(exc)))

    threads = [threading.Thread(target=client_run, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert failures == []


def test_a_server_killed_mid_batch_gives_a_clean_error_never_a_partial_line(tmp_path):
    running = Server(tmp_path)
    try:
        claims = examples() * 500  # 6000 claims: the stream is still running when the server dies
        received, error = [], None
        with (
            httpx.Client(base_url=running.url, timeout=30) as client,
            client.stream("POST", "/v1/claims:batch", content=ndjson(claims)) as response,
        ):
            assert response.status_code == 200
            assert response.headers["x-j9330-claims"] == str(len(claims))
            try:
                for line in response.iter_lines():
                    received.append(line)
                    if len(received) == 5:
                        running.process.kill()
            except (httpx.RemoteProtocolError, httpx.ReadError) as exc:
                error = exc
        assert error is not None, "the cut stream must end in an error, not look complete"
        assert 5 <= len(received) < len(claims)
        for line in received:  # every line the client holds is a whole result
            RESULT.validate(json.loads(line))
    finally:
        running.process.kill()
        running.process.wait()


def test_several_workers_serve(tmp_path, reference):
    running = Server(tmp_path, "--workers", "2")
    try:
        claim = examples()[0]
        with running.client() as client:
            for _ in range(10):
                response = client.post("/v1/claims:check", json=claim)
                assert (response.status_code, response.json()) == expected(reference, claim)
        log = running.log.read_text()
        assert log.count("Started server process") >= 2 or "Started parent process" in log
    finally:
        running.stop()
    assert running.process.returncode is not None
