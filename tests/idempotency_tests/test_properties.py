"""Property tests (hypothesis): Idempotency-Key validation and request fingerprints.

The examples are bounded so that the file runs in a few seconds; hypothesis
shrinks any failure to a minimal input and prints it.
"""

from __future__ import annotations

import json
import uuid

from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from agents.models import Agent
from idempotency.errors import IdempotencyKeyInvalid
from idempotency.keys import canonical_body, parse_key, request_fingerprint
from idempotency.models import KEY_MAX_LENGTH, IdempotencyRecord

VISIBLE = st.characters(min_codepoint=0x21, max_codepoint=0x7E)
CONTROL = st.characters(min_codepoint=0x00, max_codepoint=0x1F) | st.just("\x7f")
NON_ASCII = st.characters(min_codepoint=0x80)
keys = st.text(alphabet=VISIBLE, min_size=1, max_size=KEY_MAX_LENGTH)
# Quotes and backslashes often, so that the quoted form's escapes get exercised.
quote_heavy_keys = st.text(alphabet=st.sampled_from('"\\ab') | VISIBLE, min_size=1,
                           max_size=KEY_MAX_LENGTH)
JSON_WHITESPACE = " \t\n\r"


def quoted(key: str) -> str:
    """Return `key` as a Structured Field string, the IETF draft's form of the header."""
    return '"' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'


def looks_quoted(value: str) -> bool:
    return len(value) >= 2 and value[0] == value[-1] == '"'


def fp(body: bytes | str, method: str = "POST", path: str = "/api/agents/") -> str:
    if isinstance(body, str):
        body = body.encode()
    return request_fingerprint(method=method, path=path, body=body)


def refused(raw: str) -> bool:
    try:
        parse_key(raw)
    except IdempotencyKeyInvalid:
        return True
    return False


# --- Key validation -----------------------------------------------------------

@given(keys)
@example("a")
@example("~" * KEY_MAX_LENGTH)
@example('a"b\\c')
@settings(max_examples=300)
def test_every_1_to_255_char_visible_ascii_key_is_accepted_unchanged(key):
    assume(not looks_quoted(key))  # '"abc"' is the quoted form of 'abc'
    assert parse_key(key) == key


@given(quote_heavy_keys)
@example('"')
@example("\\")
@example('""')
@example("x" * KEY_MAX_LENGTH)
@settings(max_examples=300)
def test_the_quoted_form_of_a_valid_key_parses_to_the_key(key):
    assert parse_key(quoted(key)) == key


@given(keys, st.text(alphabet=" \t", max_size=3), st.text(alphabet=" \t", max_size=3))
@settings(max_examples=100)
def test_spaces_and_tabs_around_the_header_value_are_ignored(key, before, after):
    assume(not looks_quoted(key))
    assert parse_key(before + key + after) == key
    assert parse_key(before + quoted(key) + after) == key


@given(st.text(max_size=300))
@example("")
@example('""')
@example('"\\"')
@settings(max_examples=500)
def test_a_parsed_key_is_always_1_to_255_visible_ascii(raw):
    try:
        key = parse_key(raw)
    except IdempotencyKeyInvalid:
        return
    assert 1 <= len(key) <= KEY_MAX_LENGTH
    assert all(0x21 <= ord(char) <= 0x7E for char in key)


@given(st.text(alphabet=" \t", max_size=5))
def test_an_empty_or_blank_key_is_refused(blank):
    assert refused(blank)
    assert refused(quoted(blank))


@given(st.text(alphabet=VISIBLE, min_size=KEY_MAX_LENGTH + 1, max_size=KEY_MAX_LENGTH + 200))
@settings(max_examples=50)
def test_a_key_longer_than_255_chars_is_refused_plain_or_quoted(key):
    assert refused(key)
    assert refused(quoted(key))


@given(keys, keys, CONTROL)
@settings(max_examples=200)
def test_a_control_character_inside_a_key_is_refused(head, tail, control):
    assert refused(head + control + tail)
    assert refused(quoted(head + control + tail))


@given(keys, st.sampled_from([chr(c) for c in range(0x20)] + ["\x7f"]), st.booleans())
@settings(max_examples=100)
def test_a_control_character_other_than_tab_at_either_end_is_refused(key, control, at_end):
    assume(control != "\t")  # a tab around the value is optional whitespace
    assert refused(key + control if at_end else control + key)


@given(keys, keys, st.text(alphabet=" ", min_size=1, max_size=3))
@settings(max_examples=100)
def test_a_space_inside_a_key_is_refused(head, tail, spaces):
    assert refused(head + spaces + tail)
    assert refused(quoted(head + spaces + tail))


@given(st.text(alphabet=VISIBLE, max_size=20), st.text(alphabet=VISIBLE, max_size=20), NON_ASCII)
@settings(max_examples=200)
def test_a_non_ascii_character_anywhere_in_a_key_is_refused(head, tail, char):
    assert refused(head + char + tail)
    assert refused(quoted(head + char + tail))


# --- Fingerprint canonicalisation ---------------------------------------------

json_leaves = (st.none() | st.booleans() | st.integers()
               | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=10))
json_docs = st.recursive(
    json_leaves,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=12,
)


def render(doc, data) -> str:
    """Serialise `doc` with members in a drawn order, drawn whitespace and escaping."""
    def ws() -> str:
        return data.draw(st.text(alphabet=JSON_WHITESPACE, max_size=2))

    def scalar(value) -> str:
        return json.dumps(value, ensure_ascii=data.draw(st.booleans()))

    if isinstance(doc, dict):
        members = data.draw(st.permutations(list(doc.items())))
        inner = ",".join(f"{ws()}{scalar(k)}{ws()}:{ws()}{render(v, data)}{ws()}"
                         for k, v in members)
        return "{" + (inner or ws()) + "}"
    if isinstance(doc, list):
        inner = ",".join(f"{ws()}{render(v, data)}{ws()}" for v in doc)
        return "[" + (inner or ws()) + "]"
    return scalar(doc)


def canon(value) -> str:
    """JSON values differ exactly when these differ (1, 1.0 and true are different values)."""
    return json.dumps(value, sort_keys=True)


def node_paths(doc, path=()):
    yield path
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from node_paths(v, (*path, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from node_paths(v, (*path, i))


def replaced(doc, path, value):
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(doc, dict):
        return {**doc, head: replaced(doc[head], rest, value)}
    return [replaced(v, rest, value) if i == head else v for i, v in enumerate(doc)]


def node(doc, path):
    for step in path:
        doc = doc[step]
    return doc


@given(json_docs, st.data())
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
def test_json_member_order_whitespace_and_escaping_never_change_the_fingerprint(doc, data):
    variant = data.draw(st.text(alphabet=JSON_WHITESPACE, max_size=2)) + render(doc, data)
    assert fp(variant) == fp(json.dumps(doc))


@given(json_docs, st.data())
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
def test_any_change_of_a_json_value_changes_the_fingerprint(doc, data):
    path = data.draw(st.sampled_from(list(node_paths(doc))))
    old = node(doc, path)
    new = data.draw(json_docs.filter(lambda value: canon(value) != canon(old)))
    assert fp(json.dumps(replaced(doc, path, new))) != fp(json.dumps(doc))


@given(st.dictionaries(st.text(max_size=6), json_leaves, max_size=4), st.text(max_size=6),
       json_leaves)
@settings(max_examples=100)
def test_adding_a_member_to_a_json_object_changes_the_fingerprint(doc, name, value):
    assume(name not in doc)
    assert fp(json.dumps({**doc, name: value})) != fp(json.dumps(doc))


methods = st.sampled_from(["POST", "PUT", "PATCH", "DELETE", "post", "Post"])
paths = st.sampled_from(["/api/agents/", "/api/agents", "/api/agents/?a=1",
                         "/api/agents/x/deploy/", "/"])


@given(methods, methods, paths, paths, json_docs)
@settings(max_examples=200)
def test_a_change_of_method_or_path_changes_the_fingerprint(method, other_method, path,
                                                             other_path, doc):
    body = json.dumps(doc).encode()
    same = method.upper() == other_method.upper() and path == other_path
    assert (request_fingerprint(method=method, path=path, body=body)
            == request_fingerprint(method=other_method, path=other_path, body=body)) == same


# Small alphabets, so that the parts often collide and shift into each other.
tiny = st.text(alphabet="P/a:", max_size=4)
tiny_bodies = st.sampled_from([b"", b"a", b"a:", b"raw:a", b"json:1", b"1", b" 1 ", b"1.0",
                               b'{"a":1}', b'{ "a": 1 }', b'"a"', b"[]", b"[ ]", b"null"])


@given(tiny, tiny, tiny_bodies, tiny, tiny, tiny_bodies)
@settings(max_examples=500)
def test_fingerprints_match_exactly_when_method_path_and_canonical_body_match(
        method, path, body, other_method, other_path, other_body):
    same = (method.upper(), path, canonical_body(body)) == (
        other_method.upper(), other_path, canonical_body(other_body))
    assert (request_fingerprint(method=method, path=path, body=body)
            == request_fingerprint(method=other_method, path=other_path, body=other_body)
            ) == same


def is_json(body: bytes) -> bool:
    try:
        json.loads(body)
    except (ValueError, RecursionError):
        return False
    return True


@given(st.binary(max_size=64) | st.builds(
    lambda a, b: f"display_name={a}&x={b}".encode(), st.text(max_size=8), st.text(max_size=8)))
@example(b"[" * 5000)
@settings(max_examples=300)
def test_a_body_that_is_not_json_is_fingerprinted_raw(body):
    assume(not is_json(body))
    assert canonical_body(body) == b"raw:" + body


@given(st.binary(max_size=64), st.binary(max_size=64))
@settings(max_examples=300)
def test_different_non_json_bodies_get_different_fingerprints(body, other):
    assume(body != other and not is_json(body) and not is_json(other))
    assert fp(body) != fp(other)


@given(st.binary(max_size=64))
@settings(max_examples=300)
def test_every_byte_body_gets_a_fingerprint(body):
    assert len(fp(body)) == 64


# Any code point, lone UTF-16 surrogates included: JSON can carry them as "\\ud800".
any_code_point = st.characters() | st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)


@given(st.text(alphabet=any_code_point, max_size=8))
@example("\ud800")
@settings(max_examples=100)
def test_json_with_any_escaped_string_gets_a_fingerprint(text):
    body = json.dumps({"display_name": "Bot", "note": text}).encode()  # ASCII, \\u escapes
    assert len(fp(body)) == 64


# --- Through the API ------------------------------------------------------------

API = settings(max_examples=25, deadline=None,
               suppress_health_check=[HealthCheck.function_scoped_fixture])


@given(raw=st.one_of(
    st.just(""),
    st.text(alphabet=VISIBLE, min_size=KEY_MAX_LENGTH + 1, max_size=KEY_MAX_LENGTH + 20),
    st.builds(lambda a, c, b: a + c + b, keys, CONTROL | NON_ASCII | st.just(" "), keys),
))
@API
def test_a_malformed_key_is_refused_with_400_and_nothing_runs(api, raw):
    response = api.post("/api/agents/", {"display_name": "Bot"}, format="json",
                        HTTP_IDEMPOTENCY_KEY=raw)
    assert response.status_code == 400
    assert response.json()["code"] == "idempotency_key_invalid"
    assert not Agent.objects.exists()
    assert not IdempotencyRecord.objects.exists()


@given(text=st.text(alphabet=any_code_point, min_size=1, max_size=8))
@example(text="\ud800")
@API
def test_an_idempotent_create_never_answers_5xx_whatever_json_strings_it_carries(api, text):
    body = json.dumps({"display_name": "Bot", "note": text})  # \\u-escaped: valid JSON
    response = api.post("/api/agents/", body, content_type="application/json",
                        HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()))
    assert response.status_code == 201, response.content

