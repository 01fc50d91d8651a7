from __future__ import annotations

import re
import zlib

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from tokens import crypto

AGENT_RE = re.compile(r"^taos_[0-9A-Za-z]{46}$")
OPERATOR_RE = re.compile(r"^taosop_[0-9A-Za-z]{46}$")


def test_agent_token_has_prefix_base62_body_and_fixed_length():
    new = crypto.generate(crypto.Kind.AGENT)
    assert AGENT_RE.match(new.secret)
    assert new.prefix == new.secret[: len("taos_") + crypto.LOOKUP_LENGTH]


def test_operator_token_has_its_own_prefix():
    new = crypto.generate(crypto.Kind.OPERATOR)
    assert OPERATOR_RE.match(new.secret)
    assert crypto.parse(new.secret).kind is crypto.Kind.OPERATOR


def test_random_part_carries_at_least_128_bits():
    # The secret part alone (after the non-secret lookup) is 32 base62 characters.
    assert crypto.SECRET_LENGTH * 5.95 >= 128
    secrets = {crypto.generate(crypto.Kind.AGENT).secret for _ in range(200)}
    assert len(secrets) == 200


def test_checksum_is_crc32_of_the_head_in_base62():
    new = crypto.generate(crypto.Kind.AGENT)
    head, tail = new.secret[:-6], new.secret[-6:]
    number = 0
    for char in tail:
        number = number * 62 + crypto.BASE62.index(char)
    assert number == zlib.crc32(head.encode())


def test_digest_is_hmac_sha256_with_the_pepper(settings):
    new = crypto.generate(crypto.Kind.AGENT)
    assert re.fullmatch(r"[0-9a-f]{64}", new.digest)
    assert crypto.digest(new.secret) == new.digest
    settings.TOKENS_PEPPER = "another-pepper"
    assert crypto.digest(new.secret) != new.digest
    assert not crypto.digests_match(new.digest, new.secret)


def test_digest_never_contains_the_secret():
    new = crypto.generate(crypto.Kind.AGENT)
    assert new.secret not in repr(new)
    assert new.digest not in repr(new)


def test_parse_accepts_a_generated_token():
    new = crypto.generate(crypto.Kind.AGENT)
    parsed = crypto.parse(new.secret)
    assert parsed.kind is crypto.Kind.AGENT
    assert parsed.prefix == new.prefix
    assert new.secret not in repr(parsed)


@pytest.mark.parametrize("raw, code", [
    ("", "token_missing"),
    ("ghp_abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJ", "token_prefix_invalid"),
    ("taos", "token_prefix_invalid"),
    ("taos_short", "token_malformed"),
    ("taos_" + "a" * 47, "token_malformed"),
    ("taos_" + "a" * 45 + "-", "token_malformed"),
    ("taos_" + "a" * 45 + "é", "token_malformed"),
])
def test_parse_refuses_malformed_tokens_with_codes(raw, code):
    with pytest.raises(crypto.MalformedToken) as info:
        crypto.parse(raw)
    assert info.value.code == code


def test_parse_refuses_an_agent_body_under_the_operator_prefix():
    new = crypto.generate(crypto.Kind.AGENT)
    swapped = "taosop_" + new.secret[len("taos_"):]
    with pytest.raises(crypto.MalformedToken) as info:
        crypto.parse(swapped)
    assert info.value.code == "token_checksum_invalid"


@hsettings(max_examples=200, deadline=None)
@given(position=st.integers(min_value=5, max_value=50), char=st.sampled_from(crypto.BASE62))
def test_any_single_character_change_fails_the_checksum(position, char):
    secret = crypto.generate(crypto.Kind.AGENT).secret
    changed = secret[:position] + char + secret[position + 1:]
    if changed == secret:
        return
    with pytest.raises(crypto.MalformedToken) as info:
        crypto.parse(changed)
    assert info.value.code == "token_checksum_invalid"
