"""Property tests (hypothesis): token parsing refuses every damaged or foreign token.

Tokens are built from drawn parts (so that hypothesis can shrink a failure)
and also taken from `crypto.generate` (the real random source). A damaged
token must be refused by the text checks alone: through the authentication
classes and the API this is asserted with `django_assert_num_queries(0)`,
against a positive control that shows a well-formed token does query.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.test import APIClient, APIRequestFactory

from tests.support.http_auth import bearer
from tokens import crypto
from tokens.authentication import AgentTokenAuthentication, OperatorTokenAuthentication

KINDS = st.sampled_from(list(crypto.Kind))
ME = "/api/agent/me/"
# Characters a damaged token may end up with: base62, near misses and non-ASCII.
OTHER_CHARS = "-_.+/=~ !\"'\\\t\x00\x7fé\u0430\u200b０"
REPLACEMENTS = crypto.BASE62 + OTHER_CHARS


def build(kind: crypto.Kind, lookup: str, secret: str) -> str:
    """Return the well-formed token of `kind` with these lookup and secret parts."""
    head = kind.value + lookup + secret
    return head + crypto.checksum(head)


@st.composite
def tokens(draw, kinds=KINDS) -> str:
    base62 = st.sampled_from(crypto.BASE62)
    lookup = draw(st.text(alphabet=base62, min_size=crypto.LOOKUP_LENGTH,
                          max_size=crypto.LOOKUP_LENGTH))
    secret = draw(st.text(alphabet=base62, min_size=crypto.SECRET_LENGTH,
                          max_size=crypto.SECRET_LENGTH))
    return build(draw(kinds), lookup, secret)


def kind_of(raw: str) -> crypto.Kind:
    return crypto.Kind.OPERATOR if raw.startswith(crypto.OPERATOR_PREFIX) else crypto.Kind.AGENT


def refusal(raw: str) -> str | None:
    """Return the code `parse` refuses `raw` with, None if it accepts it."""
    try:
        crypto.parse(raw)
    except crypto.MalformedToken as exc:
        return exc.code
    return None


# --- Parsing ------------------------------------------------------------------

@given(KINDS)
@settings(max_examples=50)
def test_every_generated_token_parses_and_verifies_against_its_digest(kind):
    new = crypto.generate(kind)
    parsed = crypto.parse(new.secret)
    assert (parsed.kind, parsed.prefix, parsed.raw) == (kind, new.prefix, new.secret)
    assert crypto.digests_match(new.digest, new.secret)


@given(tokens())
@settings(max_examples=200)
def test_every_well_formed_token_parses_to_its_kind_and_lookup_prefix(raw):
    parsed = crypto.parse(raw)
    kind = kind_of(raw)
    assert parsed.kind is kind
    assert parsed.prefix == raw[:len(kind.value) + crypto.LOOKUP_LENGTH]


@given(tokens())
@settings(max_examples=30)
def test_every_single_character_substitution_is_refused(raw):
    # Exhaustive over positions and replacement characters for each drawn token.
    for position, original in enumerate(raw):
        for char in REPLACEMENTS:
            if char != original:
                changed = raw[:position] + char + raw[position + 1:]
                assert refusal(changed) is not None, (position, char)


@given(tokens())
@settings(max_examples=50)
def test_the_checksum_catches_every_base62_substitution_in_the_body(raw):
    # CRC32 detects every error burst of up to 32 bits, so no single changed
    # character can slip past it, whatever the token.
    start = len(kind_of(raw).value)
    for position in range(start, len(raw)):
        for char in crypto.BASE62:
            if char != raw[position]:
                changed = raw[:position] + char + raw[position + 1:]
                assert refusal(changed) == "token_checksum_invalid", (position, char)


@given(tokens())
@settings(max_examples=50)
def test_every_adjacent_transposition_in_the_body_is_refused(raw):
    start = len(kind_of(raw).value)
    for position in range(start, len(raw) - 1):
        a, b = raw[position], raw[position + 1]
        if a != b:
            assert refusal(raw[:position] + b + a + raw[position + 2:]) is not None, position


@given(tokens())
@settings(max_examples=50)
def test_every_truncation_is_refused(raw):
    for length in range(len(raw)):
        assert refusal(raw[:length]) is not None, length


@given(tokens(), st.text(min_size=1, max_size=8))
@settings(max_examples=200)
def test_every_extension_is_refused(raw, extra):
    assert refusal(raw + extra) is not None
    assert refusal(extra + raw) is not None


@given(tokens(), st.data())
@settings(max_examples=200)
def test_every_single_character_insertion_or_deletion_is_refused(raw, data):
    position = data.draw(st.integers(min_value=0, max_value=len(raw)))
    char = data.draw(st.sampled_from(REPLACEMENTS))
    assert refusal(raw[:position] + char + raw[position:]) is not None
    if position < len(raw):
        assert refusal(raw[:position] + raw[position + 1:]) is not None


@given(tokens(), st.text(max_size=10))
@settings(max_examples=300)
def test_a_token_under_any_other_prefix_is_refused(raw, prefix):
    own = kind_of(raw).value
    assume(prefix != own)
    assert refusal(prefix + raw[len(own):]) is not None


@given(tokens())
@settings(max_examples=200)
def test_an_agent_body_under_the_operator_prefix_and_back_fails_the_checksum(raw):
    # The bodies have the same length: only the checksum, which covers the
    # prefix, tells the kinds apart.
    kind = kind_of(raw)
    other = crypto.Kind.AGENT if kind is crypto.Kind.OPERATOR else crypto.Kind.OPERATOR
    assert refusal(other.value + raw[len(kind.value):]) == "token_checksum_invalid"


@given(tokens(), st.sampled_from(["TAOS_", "Taos_", "TAOSOP_", "taosOP_", "taos-", "taosop-"]))
@settings(max_examples=50)
def test_a_prefix_in_the_wrong_case_or_with_the_wrong_separator_is_refused(raw, prefix):
    assert refusal(prefix + raw[len(kind_of(raw).value):]) == "token_prefix_invalid"


@given(st.text(max_size=80))
@settings(max_examples=500)
def test_arbitrary_text_is_refused_unless_it_is_a_well_formed_token(raw):
    code = refusal(raw)
    if code is None:
        kind = kind_of(raw)
        body = raw[len(kind.value):]
        assert raw.startswith(kind.value) and len(body) == crypto.BODY_LENGTH
        assert raw == build(kind, body[:crypto.LOOKUP_LENGTH],
                            body[crypto.LOOKUP_LENGTH:-crypto.CHECKSUM_LENGTH])


# --- Through authentication: no query for a damaged token ----------------------

NO_DB_SHARED = settings(deadline=None,
                        suppress_health_check=[HealthCheck.function_scoped_fixture])


def damaged(raw: str, data) -> str:
    """Return `raw` with one drawn defect: a substitution, truncation, extension or prefix."""
    how = data.draw(st.sampled_from(["substitute", "truncate", "extend", "prefix"]))
    if how == "substitute":
        position = data.draw(st.integers(min_value=0, max_value=len(raw) - 1))
        char = data.draw(st.sampled_from(REPLACEMENTS).filter(lambda c: c != raw[position]))
        return raw[:position] + char + raw[position + 1:]
    if how == "truncate":
        return raw[:data.draw(st.integers(min_value=0, max_value=len(raw) - 1))]
    if how == "extend":
        # Trailing whitespace is not part of an HTTP header value: an extension
        # ending in it would just be the valid token again.
        extension = data.draw(st.text(alphabet=REPLACEMENTS, min_size=1, max_size=4)
                              .filter(lambda text: text == text.rstrip()))
        return raw + extension
    kind = kind_of(raw)
    other = crypto.Kind.AGENT if kind is crypto.Kind.OPERATOR else crypto.Kind.OPERATOR
    return other.value + raw[len(kind.value):]


def as_wsgi(raw: str) -> str:
    """Return `raw` as a WSGI server hands a header over: its UTF-8 bytes, read as latin-1."""
    return raw.encode("utf-8", "surrogatepass").decode("latin-1")


def authenticate(raw: str) -> tuple | None:
    """Run the Bearer classes in their settings order, as DRF does for a request."""
    request = Request(APIRequestFactory().get(ME, **bearer(as_wsgi(raw))))
    for authenticator in (AgentTokenAuthentication(), OperatorTokenAuthentication()):
        result = authenticator.authenticate(request)
        if result is not None:
            return result
    return None


@pytest.mark.django_db
@given(raw=tokens(), data=st.data())
@settings(max_examples=200, parent=NO_DB_SHARED)
def test_a_damaged_token_is_refused_by_authentication_without_a_query(
        raw, data, django_assert_num_queries):
    bad = damaged(raw, data)
    with django_assert_num_queries(0), pytest.raises(exceptions.AuthenticationFailed) as info:
        authenticate(bad)
    assert info.value.get_codes() in {"token_missing", "token_prefix_invalid",
                                      "token_malformed", "token_checksum_invalid"}


@pytest.mark.django_db
def test_a_well_formed_unknown_token_costs_one_query(django_assert_num_queries):
    # The control for the zero-query assertions: a lookup would be counted.
    # (The failure is then counted for the lockout, in the cache: the
    # database cache's statements are left out here.)
    raw = crypto.generate(crypto.Kind.AGENT).secret
    with CaptureQueriesContext(connection) as queries, \
            pytest.raises(exceptions.AuthenticationFailed) as info:
        authenticate(raw)
    assert info.value.get_codes() == "token_unknown"
    token_queries = [q["sql"] for q in queries.captured_queries
                     if "taos_cache" not in q["sql"] and "SAVEPOINT" not in q["sql"]]
    assert len(token_queries) == 1, token_queries


@pytest.mark.django_db
@given(operator_raw=tokens(kinds=st.just(crypto.Kind.OPERATOR)),
       agent_raw=tokens(kinds=st.just(crypto.Kind.AGENT)))
@settings(max_examples=50, parent=NO_DB_SHARED)
def test_the_agent_class_never_takes_an_operator_token_and_vice_versa(
        operator_raw, agent_raw, django_assert_num_queries):
    for token, wrong_class in ((operator_raw, AgentTokenAuthentication),
                               (agent_raw, OperatorTokenAuthentication)):
        request = Request(APIRequestFactory().get(ME, **bearer(token)))
        with django_assert_num_queries(0):
            assert wrong_class().authenticate(request) is None


@given(data=st.data())
@settings(max_examples=40, parent=NO_DB_SHARED)
def test_a_damaged_copy_of_an_issued_token_gets_401_from_the_api_without_a_query(
        issued, data, django_assert_num_queries):
    bad = damaged(issued.secret, data)
    with django_assert_num_queries(0):
        response = APIClient().get(ME, **bearer(as_wsgi(bad)))
    assert response.status_code == 401
    assert response.json()["code"] in {"token_missing", "token_prefix_invalid",
                                       "token_malformed", "token_checksum_invalid"}


def test_the_undamaged_issued_token_gets_its_agent_from_the_api(issued, agent):
    # The control: the same request with the token intact succeeds.
    response = APIClient().get(ME, **bearer(issued.secret))
    assert response.status_code == 200
    assert response.json()["name"] == agent.name
