"""The service's parts in-process: keys, the body limits and timeouts, the batch deadline."""

from __future__ import annotations

import asyncio
import json

import pytest

from j9330_rules.errors import ConfigError
from j9330_rules.service.auth import BearerAuth, load_keys
from j9330_rules.service.limits import RequestRefused, read_body
from j9330_rules.service.settings import ServiceSettings, config_from_json, config_to_json, handover, resolve

KEY = "k" * 16


def test_keys_come_from_a_file_and_the_environment(tmp_path):
    keys = tmp_path / "keys"
    keys.write_text(f"# comment\n\n{KEY}  # the first\n")
    found = load_keys(keys, {"J9330_RULES_API_KEYS": "l" * 16 + ", " + "m" * 16})
    assert found == (KEY.encode(), b"l" * 16, b"m" * 16)
    assert load_keys(None, {}) == ()
    with pytest.raises(ConfigError, match="shorter than 16"):
        load_keys(None, {"J9330_RULES_API_KEYS": "short"})
    with pytest.raises(ConfigError, match="cannot be read"):
        load_keys(tmp_path / "missing", {})


def test_bearer_auth():
    auth = BearerAuth((KEY.encode(),))
    assert auth.allows(f"Bearer {KEY}".encode()) and auth.allows(f"bearer {KEY}".encode())
    for header in (None, b"", KEY.encode(), f"Basic {KEY}".encode(), f"Bearer {KEY}x".encode(), b"Bearer "):
        assert not auth.allows(header), header
    assert BearerAuth(()).allows(None)


async def _chunks(parts, pause=0.0):
    for part in parts:
        if pause:
            await asyncio.sleep(pause)
        yield part


def test_read_body_limits_size_and_time():
    assert asyncio.run(read_body({}, _chunks([b"ab", b"cd"]), limit=4, timeout=5)) == b"abcd"
    for headers, parts, status in (
        ({"content-length": "5"}, [], 413),
        ({}, [b"abc", b"de"], 413),
        ({"content-length": "x"}, [], 400),
    ):
        with pytest.raises(RequestRefused) as refused:
            asyncio.run(read_body(headers, _chunks(parts), limit=4, timeout=5))
        assert refused.value.status == status
    with pytest.raises(RequestRefused) as slow:
        asyncio.run(read_body({}, _chunks([b"a", b"b"], pause=0.2), limit=4, timeout=0.1))
    assert slow.value.status == 408


def test_a_batch_past_its_deadline_answers_every_line(bare_editor):
    pytest.importorskip("fastapi")
    from j9330_rules.readers.json_lines import read_ndjson_lines
    from j9330_rules.service.app import _Service

    service = _Service(bare_editor, ServiceSettings(timeout=1), BearerAuth(()))
    lines = [b'{"claim_id": "A", "payer": "medicare"}', b"{bad", b'{"claim_id": "B"}']

    async def collect():
        return [line async for line in service._stream(read_ndjson_lines(lines, "request"), deadline=0)]

    results = [json.loads(line) for line in asyncio.run(collect())]
    assert [r["claim_id"] for r in results] == ["A", None, "B"]
    assert results[0]["error"] == "not checked: the request's time limit (1 s) passed"
    assert results[1]["error"].startswith("request line 2: not valid JSON")


def test_the_handover_carries_one_editor_config(tmp_path):
    from j9330_rules.config import EditorConfig

    asp = tmp_path / "asp.csv"
    config = EditorConfig(asp_file=[asp, asp], history=tmp_path / "h.sqlite", engine="compiled")
    assert config_to_json(config_from_json(config_to_json(config))) == config_to_json(config)
    settings = ServiceSettings(port=9000, workers=3, timeout=2.5)
    got_config, got_settings = resolve({"J9330_RULES_SERVICE_HANDOVER": handover(config, settings)})
    assert config_to_json(got_config) == config_to_json(config) and got_settings == settings
    assert config_to_json(got_config)["asp_file"] == [str(asp), str(asp)]


def test_without_the_handover_a_worker_reads_the_environment(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no settings file here or above, unless the machine has one
    config, settings = resolve(
        {"J9330_RULES_ENGINE": "compiled", "J9330_RULES_CONFIG": "", "J9330_RULES_HISTORY": "h.db"}
    )
    assert config.history == "h.db" and settings == ServiceSettings()


def test_serve_takes_every_setting_the_settings_file_may_give():
    from j9330_rules.cli import serve
    from j9330_rules.config import SETTINGS

    assert set(SETTINGS) <= {param.name for param in serve.params}
