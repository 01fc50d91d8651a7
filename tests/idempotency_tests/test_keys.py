"""Key parsing and request fingerprints."""

from __future__ import annotations

import pytest

from idempotency.errors import IdempotencyKeyInvalid
from idempotency.keys import parse_key, request_fingerprint


def fp(body: bytes, method: str = "POST", path: str = "/api/agents/") -> str:
    return request_fingerprint(method=method, path=path, body=body)


@pytest.mark.parametrize("raw, key", [
    ("abc", "abc"), ('"abc"', "abc"), ('"a\\"b\\\\c"', 'a"b\\c'), ("  abc\t", "abc"),
    ('a"b', 'a"b'),
])
def test_parse_key_accepts_plain_and_quoted_forms(raw, key):
    assert parse_key(raw) == key


@pytest.mark.parametrize("raw", ["", '""', "x" * 256, "a\x00b", "a\nb", "a b", "ключ"])
def test_parse_key_refuses_malformed_keys(raw):
    with pytest.raises(IdempotencyKeyInvalid):
        parse_key(raw)


def test_fingerprint_ignores_json_key_order_and_whitespace():
    assert fp(b'{"a": 1, "b": [1, 2]}') == fp(b'{"b":[1,2],"a":1}')


def test_fingerprint_differs_by_method_path_and_body():
    base = fp(b'{"a": 1}')
    assert fp(b'{"a": 1}', method="PUT") != base
    assert fp(b'{"a": 1}', path="/api/agents/?x=1") != base
    assert fp(b'{"a": 2}') != base


def test_fingerprint_hashes_a_non_json_body_raw():
    assert fp(b"display_name=a") != fp(b"display_name=b")
    assert fp(b"not json") == fp(b"not json")
    assert fp(b"[" * 100_000) == fp(b"[" * 100_000)  # too deep to parse: still hashed


def test_fingerprint_is_sha256_hex():
    value = fp(b"{}")
    assert len(value) == 64 and int(value, 16) >= 0
