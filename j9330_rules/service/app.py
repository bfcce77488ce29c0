"""The ASGI app: routes over one Editor per worker process.

Checks run on one thread of their own per process (the Editor checks one claim at a time
anyway), so the event loop stays free for health checks and other connections, and a claim still
queued when its request times out is never checked. Every response body is JSON that names
paths and problems, never a claim value; the access log carries method, route, status, latency
and request id only.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import copy
import json
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response, StreamingResponse

from j9330_rules.config import EditorConfig
from j9330_rules.editor import Editor
from j9330_rules.errors import ClaimError, EngineFailure
from j9330_rules.findings import HOST_FINDINGS
from j9330_rules.model import Result
from j9330_rules.readers.base import JSON_ERRORS, Unreadable, json_problem
from j9330_rules.readers.json_lines import read_ndjson_lines
from j9330_rules.rules.catalogue import catalogue
from j9330_rules.schemas import claim_schema, result_schema
from j9330_rules.service.auth import BearerAuth, load_keys
from j9330_rules.service.limits import RequestRefused, read_body
from j9330_rules.service.settings import ServiceSettings, resolve
from j9330_rules.writers.serialise import result_to_dict

access_log = logging.getLogger("j9330_rules.service.access")
log = logging.getLogger("j9330_rules.service")

NDJSON = "application/x-ndjson"
#: Routes anyone may call: a load balancer's probes and the contract itself.
OPEN_ROUTES = frozenset({"/healthz", "/readyz", "/openapi.json"})
#: Claims checked per hop to the check thread in a batch (each still streams as its own line).
BATCH_STEP = 32
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
_PROBLEM = re.compile(r"^(\$[^:\s]*): (.*)$")
_SHOWN_PAYER_ID = re.compile(r"(?:the )?payer ID (?!is )\S+")

#: serve() with one worker builds its Editor first (to report a bad setting before starting):
#: the factory, in the same process, takes it from here instead of building a second.
PREBUILT: dict[str, Editor] = {}


def create_app(
    editor: Editor | None = None, config: EditorConfig | None = None, settings: ServiceSettings | None = None
) -> FastAPI:
    """The app for one worker: ``uvicorn --factory j9330_rules.service.app:create_app``.

    Without arguments it takes its config and settings from ``serve``'s handover, or resolves them
    as the CLI does (``J9330_RULES_*`` variables, then the settings file)."""
    if settings is None or (editor is None and config is None):
        resolved_config, resolved_settings = resolve()
        config = config or resolved_config
        settings = settings or resolved_settings
    if editor is None:
        editor = PREBUILT.pop("editor", None) or Editor(config)
    service = _Service(editor, settings, BearerAuth(load_keys(settings.api_keys_file)))
    app = FastAPI(
        title="j9330-rules",
        summary="Claim edits for HCPCS J9330 (temsirolimus, 1 mg)",
        version=editor._version,
        docs_url=None,
        redoc_url=None,
    )
    app.state.service = service
    service.routes(app)
    app.openapi = lambda: _openapi(app)
    app.add_middleware(_Gate, auth=service.auth)
    return app


class _Service:
    def __init__(self, editor: Editor, settings: ServiceSettings, auth: BearerAuth):
        self.editor, self.settings, self.auth = editor, settings, auth
        self.pool = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="j9330-check")

    async def run(self, function: Callable[[], Any], timeout: float) -> Any:
        future = self.pool.submit(function)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), timeout)
        finally:
            future.cancel()  # still queued: never started

    async def body(self, request: Request) -> bytes:
        return await read_body(
            request.headers, request.stream(), limit=self.settings.max_body_bytes, timeout=self.settings.timeout
        )

    def routes(self, app: FastAPI) -> None:
        app.add_api_route(
            "/v1/claims:check", self.check, methods=["POST"], response_model=None, summary="Check one claim"
        )
        app.add_api_route(
            "/v1/claims:batch",
            self.batch,
            methods=["POST"],
            response_model=None,
            summary="Check claims: NDJSON in, NDJSON out",
        )
        app.add_api_route("/v1/payers", self.payers, methods=["GET"], response_model=None, summary="The loaded payers")
        app.add_api_route("/v1/edits", self.edits, methods=["GET"], response_model=None, summary="The edit catalogue")
        app.add_api_route(
            "/v1/edits/{code}",
            self.explain,
            methods=["GET"],
            response_model=None,
            summary="One edit code, and which rules raise it",
        )
        app.add_api_route("/healthz", self.healthz, methods=["GET"], response_model=None, summary="The process is up")
        app.add_api_route("/readyz", self.readyz, methods=["GET"], response_model=None, summary="The Editor is loaded")

    # -- claims --------------------------------------------------------------------------------

    async def check(self, request: Request) -> Response:
        try:
            data = _claim_json(await self.body(request))
            result = await self.run(lambda: self.editor.check(data), self.settings.timeout)
        except RequestRefused as refused:
            return _refusal(refused)
        except ClaimError as exc:
            return _error(422, "invalid_claim", "the claim cannot be checked", problems=_problems(exc))
        except EngineFailure:
            return _error(500, "engine_failure", "the rules engine did not complete the claim")
        except TimeoutError:
            return _error(504, "timeout", f"the claim was not checked within {self.settings.timeout:g} s")
        return Response(_line(result), media_type="application/json")

    async def batch(self, request: Request) -> Response:
        try:
            body = await self.body(request)
        except RequestRefused as refused:
            return _refusal(refused)
        lines = body.split(b"\n")
        count = sum(1 for line in lines if line.strip())
        limit = self.settings.max_batch_claims
        if count > limit:
            return _refusal(
                RequestRefused(413, "too_many_claims", f"a batch holds at most {limit} claims", limit=limit)
            )
        if count == 0:
            return _error(422, "no_claims", "the request holds no claims (one JSON claim per line)")
        deadline = asyncio.get_running_loop().time() + self.settings.timeout
        return StreamingResponse(
            self._stream(read_ndjson_lines(lines, "request"), deadline),
            media_type=NDJSON,
            headers={"X-J9330-Claims": str(count)},
        )

    async def _stream(self, items: Iterator[Any], deadline: float) -> AsyncIterator[bytes]:
        """One whole line per result, each its own chunk: a client never holds a part of a line
        as if it were a result, and a stream cut short ends without its final chunk (an error on
        the client), never on half a line."""
        loop = asyncio.get_running_loop()
        while True:
            step = list(_take(items, BATCH_STEP))
            if not step:
                return
            remaining = deadline - loop.time()
            try:
                if remaining <= 0:
                    raise TimeoutError
                lines = await self.run(lambda step=step: [_line(r) for r in self._results(step)], remaining)
            except TimeoutError:
                message = f"not checked: the request's time limit ({self.settings.timeout:g} s) passed"
                lines = [_line(_unchecked(item, message)) for item in step]
            for line in lines:
                yield line

    def _results(self, items: list[Any]) -> Iterator[Result]:
        """As the CLI checks them: an unreadable line is an error result in its place."""
        for item in items:
            if isinstance(item, Unreadable):
                yield Result(None, None, error=item.message)
            else:
                yield from self.editor.check_many([item])

    # -- reference -----------------------------------------------------------------------------

    async def payers(self) -> dict[str, Any]:
        editor = self.editor
        return {
            "payers": [
                {
                    "name": name,
                    "display_name": payer.display_name,
                    "plugin": editor.registry.payer_plugins.get(name),
                    "policy_sourced": payer.policy_sourced,
                    "rulesets": [{"name": s.name, "version": s.version} for s in editor.policies[name].specs],
                    "payer_ids": [entry.id for entry in payer.payer_ids],
                }
                for name, payer in sorted(editor.payers.items())
            ]
        }

    async def edits(self) -> dict[str, Any]:
        return {"edits": [_edit(entry) for entry in catalogue().values()]}

    async def explain(self, code: str) -> Response | dict[str, Any]:
        codes = catalogue()
        entry = codes.get(code.strip().upper())
        if entry is None:
            return _error(404, "unknown_edit_code", "no such edit code", codes=list(codes))
        editor = self.editor
        rules, raised_by = [], set()
        for name in sorted(editor.policies):
            for rule in _raising(editor, name, entry.code):
                raised_by.add(name)
                rules.append(rule)
        overrides = [
            {
                "payer": name,
                "severity": override.severity,
                "effective": override.effective.describe(),
                "source": override.source,
            }
            for name in sorted(editor.policies)
            for override in editor.policies[name].overrides
            if override.code == entry.code
        ]
        return {
            **_edit(entry),
            "rules": rules,
            "not_raised_for": sorted(set(editor.policies) - raised_by),
            "severity_overrides": overrides,
        }

    async def healthz(self) -> dict[str, str]:
        return {"status": "ok"}

    async def readyz(self) -> dict[str, Any]:
        editor = self.editor
        return {
            "status": "ready",
            "engine": editor.engine,
            "payers": len(editor.policies),
            "plugin_failures": len(editor.registry.failures),
            "not_loaded": sorted(editor.reference.not_loaded),
        }


def _raising(editor: Editor, payer: str, code: str) -> Iterator[dict[str, str]]:
    """The rules that raise ``code`` for ``payer``, as ``j9330-rules explain`` lists them."""
    for rule in editor.policies[payer].rules:
        if rule.code == code:
            yield {
                "payer": payer,
                "rule_id": rule.id,
                "ruleset": rule.ruleset,
                "severity": rule.severity,
                "effective": rule.effective.describe(),
            }
    host = HOST_FINDINGS.get(code)
    if host is not None and host.applies_to(editor.payers[payer]):
        yield {
            "payer": payer,
            "rule_id": host.rule_id,
            "ruleset": "(host)",
            "severity": catalogue()[code].severity,
            "effective": "always",
        }


def _edit(entry) -> dict[str, Any]:
    return {
        "code": entry.code,
        "severity": entry.severity,
        "meaning": entry.meaning,
        "carc": entry.carc,
        "rarc": entry.rarc,
    }


def _take(items: Iterator[Any], count: int) -> Iterable[Any]:
    for _ in range(count):
        try:
            yield next(items)
        except StopIteration:
            return


def _unchecked(item: Any, message: str) -> Result:
    if isinstance(item, Unreadable):
        return Result(None, None, error=item.message)
    from j9330_rules.model.structure import error_result

    return error_result(item, message)


def _line(result: Result) -> bytes:
    return (json.dumps(result_to_dict(result)) + "\n").encode()


def _claim_json(body: bytes) -> Any:
    try:
        data = json.loads(body)
    except JSON_ERRORS as exc:
        raise RequestRefused(400, "invalid_json", f"the body is not valid JSON ({json_problem(exc)})") from None
    if not isinstance(data, dict):
        raise RequestRefused(
            422,
            "invalid_claim",
            "the claim cannot be checked",
            problems=[{"path": "$", "problem": "expected an object"}],
        )
    return data


def _problems(exc: ClaimError) -> list[dict[str, str]]:
    """The ClaimError's problems as path and problem. Its messages never quote a claim value;
    the one identifier they may name, a payer ID, is left out here too."""
    problems = []
    for part in str(exc).split("; "):
        match = _PROBLEM.match(part)
        if match:
            problems.append({"path": match[1], "problem": _SHOWN_PAYER_ID.sub("the payer ID", match[2])})
        elif problems:  # a problem whose text holds "; " (the known payers, a hint)
            problems[-1]["problem"] += "; " + _SHOWN_PAYER_ID.sub("the payer ID", part)
        else:
            problems.append({"path": "$", "problem": _SHOWN_PAYER_ID.sub("the payer ID", part)})
    return problems


def _error(status: int, error: str, message: str, **extra: Any) -> Response:
    body = {"error": error, "message": message, **extra}
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return Response(json.dumps(body), status_code=status, media_type="application/json", headers=headers)


def _refusal(refused: RequestRefused) -> Response:
    return _error(refused.status, refused.error, refused.message, **refused.extra)


# -- the gate: request id, auth, access log, last-resort errors --------------------------------


class _Gate:
    """Pure ASGI middleware (a streamed batch passes through unbuffered)."""

    def __init__(self, app, auth: BearerAuth):
        self.app, self.auth = app, auth

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = dict(scope.get("headers") or ())
        given = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        state = {"status": None, "done": False}

        async def sending(message) -> None:
            if message["type"] == "http.response.start":
                state["status"] = message["status"]
                message = {**message, "headers": [*message.get("headers", ()), (b"x-request-id", request_id.encode())]}
            elif message["type"] == "http.response.body" and not message.get("more_body", False):
                state["done"] = True
            await send(message)

        try:
            if scope["path"] not in OPEN_ROUTES and not self.auth.allows(headers.get(b"authorization")):
                await _asgi(_error(401, "unauthorized", "a valid bearer token is required"), scope, receive, sending)
            else:
                await self.app(scope, receive, sending)
        except Exception as exc:  # a bug: its type only, never its text (it may quote a claim)
            log.error(
                "internal error on %s %s (%s) request_id=%s",
                scope["method"],
                _route(scope),
                type(exc).__name__,
                request_id,
            )
            if state["status"] is None:
                await _asgi(_error(500, "internal_error", "internal error"), scope, receive, sending)
            # else: the response has begun; returning without its end closes the connection,
            # which the client sees as an incomplete response, not as a shorter one
        finally:
            latency = (time.perf_counter() - started) * 1000
            access_log.info(
                "method=%s route=%s status=%s latency_ms=%.2f request_id=%s%s",
                scope["method"],
                _route(scope),
                state["status"] if state["status"] is not None else "-",
                latency,
                request_id,
                "" if state["done"] else " incomplete=true",
            )


async def _asgi(response: Response, scope, receive, send) -> None:
    await response(scope, receive, send)


def _route(scope) -> str:
    """The route's template (``/v1/edits/{code}``), never the raw path or query."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if path:
        return path
    return scope["path"] if scope["path"] in OPEN_ROUTES else "(unmatched)"


# -- OpenAPI with the generated schemas ----------------------------------------------------------


def _openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema is not None:
        return app.openapi_schema
    from fastapi.openapi.utils import get_openapi

    document = get_openapi(title=app.title, version=app.version, summary=app.summary, routes=app.routes)
    components = document.setdefault("components", {}).setdefault("schemas", {})
    for name, schema in (("Claim", claim_schema()), ("Result", result_schema())):
        schema = copy.deepcopy(schema)
        for key in ("$schema", "$id"):
            schema.pop(key, None)
        for def_name, definition in schema.pop("$defs", {}).items():
            if def_name in components:
                raise RuntimeError(f"two schemas named {def_name}")
            components[def_name] = _components_refs(definition)
        components[name] = _components_refs(schema)
    components["Error"] = _ERROR_SCHEMA
    security = {"bearer": {"type": "http", "scheme": "bearer"}}
    document["components"]["securitySchemes"] = security
    for path, operations in document["paths"].items():
        for operation in operations.values():
            operation["responses"] = _responses(path)
            if path not in OPEN_ROUTES:
                operation["security"] = [{"bearer": []}]
            body = _REQUEST_BODIES.get(path)
            if body is not None:
                operation["requestBody"] = body
    app.openapi_schema = document
    return document


def _components_refs(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            key: (item.replace("#/$defs/", "#/components/schemas/") if key == "$ref" else _components_refs(item))
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_components_refs(item) for item in value]
    return value


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


_ERROR_SCHEMA = {
    "type": "object",
    "required": ["error", "message"],
    "properties": {
        "error": {"type": "string"},
        "message": {"type": "string"},
        "problems": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["path", "problem"],
                "properties": {"path": {"type": "string"}, "problem": {"type": "string"}},
            },
        },
        "limit": {"type": "integer"},
        "codes": {"type": "array", "items": {"type": "string"}},
    },
}
_JSON_ERROR = {"application/json": {"schema": _ref("Error")}}
_REQUEST_BODIES = {
    "/v1/claims:check": {"required": True, "content": {"application/json": {"schema": _ref("Claim")}}},
    "/v1/claims:batch": {
        "required": True,
        "description": "one claim per line (NDJSON); blank lines are skipped",
        "content": {NDJSON: {"schema": _ref("Claim")}},
    },
}


def _responses(path: str) -> dict[str, Any]:
    ok: dict[str, Any] = {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}}
    if path == "/v1/claims:check":
        ok = {"description": "the claim's result", "content": {"application/json": {"schema": _ref("Result")}}}
    elif path == "/v1/claims:batch":
        ok = {
            "description": "one result per claim line, in order, streamed; X-J9330-Claims says how many",
            "headers": {"X-J9330-Claims": {"schema": {"type": "integer"}}},
            "content": {NDJSON: {"schema": _ref("Result")}},
        }
    responses: dict[str, Any] = {"200": ok}
    if path not in OPEN_ROUTES:
        responses["401"] = {"description": "no valid bearer token (when keys are set)", "content": _JSON_ERROR}
    if path.startswith("/v1/claims"):
        responses["400"] = {"description": "not valid JSON", "content": _JSON_ERROR}
        responses["408"] = {"description": "the body was not received in time", "content": _JSON_ERROR}
        responses["413"] = {"description": "body too large, or too many claims", "content": _JSON_ERROR}
        responses["422"] = {
            "description": "the claim cannot be checked: the paths and problems",
            "content": _JSON_ERROR,
        }
    if path == "/v1/claims:check":
        responses["504"] = {"description": "not checked in time", "content": _JSON_ERROR}
    if path == "/v1/edits/{code}":
        responses["404"] = {"description": "no such edit code", "content": _JSON_ERROR}
    return responses
