"""The deploy log keeps no token: not the agent's, not a piece of it, not another one."""

from __future__ import annotations

from deploys.backends import REDACTED, LogTail
from tokens import crypto


def tail_of(*lines: str, secret: str) -> str:
    log = LogTail()
    log.redact(secret)
    for line in lines:
        log.add(line)
    return log.text()


def test_the_exact_secret_is_redacted():
    secret = crypto.generate(crypto.Kind.AGENT).secret
    assert tail_of(f"token={secret}!", secret=secret) == f"token={REDACTED}!"


def test_an_eight_character_fragment_of_the_secret_is_redacted():
    secret = crypto.generate(crypto.Kind.AGENT).secret
    middle = secret[20:28]
    text = tail_of(f"half: {secret[:30]}", f"other half: {secret[30:]}",
                   f"piece [{middle}]", secret=secret)
    assert text == "\n".join([f"half: {REDACTED}", f"other half: {REDACTED}",
                              f"piece [{REDACTED}]"])


def test_a_fragment_shorter_than_eight_characters_is_kept():
    secret = crypto.generate(crypto.Kind.AGENT).secret
    assert tail_of(f"id {secret[25:32]} ok", secret=secret) == f"id {secret[25:32]} ok"


def test_any_token_shaped_string_is_redacted_even_another_ones():
    own = crypto.generate(crypto.Kind.AGENT).secret
    operator = crypto.generate(crypto.Kind.OPERATOR).secret
    foreign_agent = crypto.generate(crypto.Kind.AGENT).secret
    text = tail_of(f"op {operator} and {foreign_agent}.", secret=own)
    assert text == f"op {REDACTED} and {REDACTED}."


def test_lines_without_secrets_are_untouched():
    secret = crypto.generate(crypto.Kind.AGENT).secret
    line = "incus launch images:debian/12 taos-research-bot (taos_agent_token set)"
    assert tail_of(line, secret=secret) == line
