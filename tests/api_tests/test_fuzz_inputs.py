"""No byte a client sends gives a 5xx: fuzzing past the schema (hypothesis).

schemathesis (tests/schema_tests) covers what the schema documents. This
covers what it does not: every header the site reads (Authorization with
Basic and Bearer, Idempotency-Key, X-Forwarded-For, Content-Type,
Content-Length, Cookie, X-CSRFToken, Accept, Host) filled with arbitrary
bytes (NUL, invalid UTF-8, very long values), and JSON bodies of any
nesting depth and size, with duplicate keys and numbers out of range; and
every unsafe request, the admin's form posts included (with a csrftoken
cookie, the CSRF check on), in any Content-Type charset, also codecs that
are no text encodings (rot13, zlib, ...).
Each answer must be below 500, and under /api/ an error must be a problem
with a catalogued code. Headers arrive as a WSGI server gives them: bytes
read as Latin-1. Bounded examples; CI replays a fixed set.
"""

from __future__ import annotations

import base64
import os

import pytest
from django.test import Client
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from api.error_codes import ErrorCode

CODES = {code.value for code in ErrorCode}
FUZZ = settings(max_examples=int(os.environ.get("TAOS_FUZZ_EXAMPLES", "60")), deadline=None,
                database=None, derandomize=bool(os.environ.get("CI")),
                suppress_health_check=list(HealthCheck))

# Short values, and very long ones (8 KiB: gunicorn's header limit).
RAW = st.one_of(st.binary(max_size=64), st.binary(min_size=1000, max_size=8190))
TEXT = RAW.map(lambda raw: raw.decode("latin-1"))
AUTH_PREFIXES = ["", "Basic ", "basic ", "Bearer ", "bearer ", "BEARER ", "Bearer taos_",
                 "Bearer taosop_", "Token ", "Basic  ", "Bearer\t"]
AUTHORIZATION = st.one_of(
    st.tuples(st.sampled_from(AUTH_PREFIXES), TEXT).map("".join),
    # Well-formed Basic around arbitrary user names and passwords (NUL, any byte).
    st.tuples(st.binary(max_size=64), st.binary(max_size=64)).map(
        lambda pair: "Basic " + base64.b64encode(pair[0] + b":" + pair[1]).decode()),
    st.binary(max_size=300).map(lambda raw: "Basic " + base64.b64encode(raw).decode()),
)
ADDRESS = st.one_of(st.ip_addresses().map(str), TEXT)
TARGETS = [
    ("get", "/api/agents/"), ("post", "/api/agents/"), ("get", "/api/agent/me/"),
    ("post", "/api/agents/research-bot/token/rotate/"), ("get", "/api/agents/research-bot/"),
    ("patch", "/api/agents/research-bot/"), ("delete", "/api/agents/research-bot/token/"),
    ("post", "/api/agents/deploy/"), ("get", "/healthz"), ("get", "/admin/"),
    ("post", "/admin/login/"),
]


@pytest.fixture
def site(settings, make_user, db):
    from agents.services import agent_create

    settings.TAOS_API_BASIC_AUTH = True
    settings.TAOS_TRUSTED_PROXIES = ["0.0.0.0/0", "::/0"]  # read X-Forwarded-For always
    settings.ALLOWED_HOSTS = ["testserver"]
    settings.TAOS_AUTH_FAILURE_LIMIT = 5
    make_user("operator", superuser=True)
    agent_create(display_name="Research Bot")


def call(method: str, path: str, *, body: bytes = b"{}",
         content_type: str = "application/json", **meta: str):
    client = Client(raise_request_exception=False)
    if method == "get":
        return client.get(path, **meta)
    return getattr(client, method)(path, data=body, content_type=content_type, **meta)


def assert_clean(response, path: str) -> None:
    assert response.status_code < 500, (response.status_code, response.content[:500])
    if response.status_code >= 400 and path.startswith("/api/"):
        assert response["Content-Type"] == "application/problem+json", response.content[:300]
        code = response.json()["code"]
        assert code in CODES, code


@pytest.mark.usefixtures("site")
@given(target=st.sampled_from(TARGETS), authorization=AUTHORIZATION, address=ADDRESS)
@example(target=("get", "/api/agents/"), address="192.0.2.1",
         authorization="Basic " + base64.b64encode(b"op\x00erator:pw").decode())
@example(target=("get", "/api/agents/"), address="192.0.2.1",
         authorization="Basic " + base64.b64encode(b"\xff\xfe:\x00").decode())
@example(target=("get", "/api/agents/"), address="192.0.2.1", authorization="Bearer \x00")
@FUZZ
def test_any_authorization_header_is_a_clean_answer(target, authorization, address):
    method, path = target
    response = call(method, path, HTTP_AUTHORIZATION=authorization, REMOTE_ADDR="10.0.0.1",
                    HTTP_X_FORWARDED_FOR=address)
    assert_clean(response, path)


HEADERS = ["HTTP_IDEMPOTENCY_KEY", "HTTP_X_FORWARDED_FOR", "HTTP_COOKIE", "HTTP_X_CSRFTOKEN",
           "HTTP_ACCEPT", "HTTP_HOST", "HTTP_ACCEPT_LANGUAGE", "HTTP_X_FORWARDED_PROTO",
           "HTTP_REFERER", "HTTP_ORIGIN", "CONTENT_LENGTH", "HTTP_USER_AGENT"]
COOKIE = st.one_of(
    TEXT, TEXT.map(lambda v: f"sessionid={v}"), TEXT.map(lambda v: f"csrftoken={v}"),
    st.binary(min_size=8, max_size=60).map(lambda v: "sessionid=" + v.decode("latin-1")),
)


@pytest.mark.usefixtures("site")
@given(target=st.sampled_from(TARGETS), header=st.sampled_from(HEADERS), value=TEXT,
       cookie=COOKIE)
@example(target=("get", "/api/agents/"), header="HTTP_ACCEPT", value="text/html",
         cookie="")
@example(target=("get", "/admin/"), header="HTTP_USER_AGENT", value="x",
         cookie="sessionid=abcdefgh\x00ijkl")
@example(target=("post", "/api/agents/"), header="HTTP_IDEMPOTENCY_KEY", value="\x00" * 300,
         cookie="")
@example(target=("get", "/healthz"), header="CONTENT_LENGTH", value="-1", cookie="")
@FUZZ
def test_any_other_header_is_a_clean_answer(target, header, value, cookie):
    method, path = target
    operator = "Basic " + base64.b64encode(b"operator:correct-horse-battery").decode()
    meta = {header: value, "HTTP_AUTHORIZATION": operator}
    if header != "HTTP_COOKIE":
        meta["HTTP_COOKIE"] = cookie
    response = call(method, path, body=b'{"display_name": "Fuzz"}', **meta)
    assert_clean(response, path)


def nested(depth: int, kind: str) -> bytes:
    if kind == "array":
        return b"[" * depth + b"]" * depth
    if kind == "object":
        return b'{"a":' * depth + b"1" + b"}" * depth
    return b'{"display_name": ' + b"[" * depth + b"]" * depth + b"}"


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False) | st.integers() | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children,
                                                                       max_size=4),
    max_leaves=20,
)
BODIES = st.one_of(
    st.tuples(st.integers(1, 200_000) | st.integers(900, 1100),
              st.sampled_from(["array", "object", "field"])).map(lambda t: nested(*t)),
    st.binary(max_size=2000),
    st.integers(0, 6000).map(lambda n: b'{"display_name": ' + b"9" * n + b"}"),
    st.sampled_from([b'{"display_name": 1e999}', b'{"display_name": -1e999}',
                     b'{"display_name": NaN}', b'{"display_name": Infinity}',
                     b'{"display_name": "a", "display_name": "b"}',
                     b'{"display_name": "a", "color": "#000000", "color": "#ffffff"}',
                     b'{"display_name": "\\ud800"}', b'"just a string"', b"[]", b"null",
                     b'{"display_name": "ok", "framework": "x", "model": 1e308}',
                     b"\xef\xbb\xbf{}", b'{"display_name": "a"}' + b" " * 1_100_000]),
    JSON_VALUES.map(lambda v: __import__("json").dumps({"display_name": v}).encode()),
)


@pytest.mark.usefixtures("site")
@given(target=st.sampled_from([t for t in TARGETS if t[0] in {"post", "patch"}
                               and t[1].startswith("/api/")]),
       body=BODIES, idempotency_key=st.sampled_from(["", "fuzz-key"]))
@example(target=("post", "/api/agents/"), body=nested(100_000, "array"), idempotency_key="k")
@example(target=("post", "/api/agents/"), body=nested(900, "array"), idempotency_key="k")
@example(target=("post", "/api/agents/"), body=nested(900, "object"), idempotency_key="k")
@example(target=("post", "/api/agents/"), body=nested(985, "array"), idempotency_key="k")
@example(target=("post", "/api/agents/"), body=nested(995, "object"), idempotency_key="k")
@example(target=("patch", "/api/agents/research-bot/"), body=nested(5000, "field"),
         idempotency_key="")
@FUZZ
def test_any_json_body_is_a_clean_answer(target, body, idempotency_key):
    import uuid

    method, path = target
    operator = "Basic " + base64.b64encode(b"operator:correct-horse-battery").decode()
    meta = {"HTTP_AUTHORIZATION": operator}
    if idempotency_key:
        meta["HTTP_IDEMPOTENCY_KEY"] = uuid.uuid4().hex
    response = call(method, path, body=body, **meta)
    assert_clean(response, path)


# Codecs Python knows that are no text encodings, and charsets Django's own
# form parsing refuses (it reads urlencoded bodies declared utf-8 only).
NOT_TEXT_CODECS = ["rot13", "base64", "hex", "zlib", "bz2", "uu", "quopri"]
CHARSET = st.one_of(
    st.sampled_from([*NOT_TEXT_CODECS, "latin-1", "utf8", "UTF-8", "utf-16", "ascii", "nonsense",
                     "", '"utf-8"']),
    # gunicorn answers 400 itself to a header holding a control character
    # (RFC 9110 5.5), so none reaches Django's request parsing.
    TEXT.map(lambda value: "".join(c for c in value[:60] if c >= " " and c != "\x7f")),
)
MEDIA_TYPES = ["application/json", "application/x-www-form-urlencoded", "multipart/form-data",
               "text/plain"]
# The admin's form posts: login, logout, a model's add page, an agent page's button.
ADMIN_FORMS = [("post", "/admin/login/"), ("post", "/admin/logout/"),
               ("post", "/admin/agents/agent/add/"), ("post", "/admin/password_change/"),
               ("post", "/admin/agents/agent/deploy-new/")]
CSRF = "c" * 32


def post_raw(method: str, path: str, body: bytes, content_type: str, **meta: str):
    """Send `body` as it is, with the CSRF check on (a csrftoken cookie, as a browser would)."""
    client = Client(raise_request_exception=False, enforce_csrf_checks=True)
    client.cookies["csrftoken"] = CSRF
    return client.generic(method.upper(), path, body, content_type=content_type, **meta)


@pytest.mark.usefixtures("site")
@given(target=st.sampled_from([t for t in TARGETS if t[0] != "get"] + ADMIN_FORMS),
       media_type=st.sampled_from(MEDIA_TYPES), charset=CHARSET,
       credentials=st.sampled_from(["basic", "csrf-token", "none"]))
@example(target=("post", "/api/agents/"), media_type="application/json", charset="rot13",
         credentials="basic")
@example(target=("patch", "/api/agents/research-bot/"), media_type="application/json",
         charset="zlib", credentials="basic")
@example(target=("post", "/admin/login/"), media_type="application/x-www-form-urlencoded",
         charset="latin-1", credentials="none")
@FUZZ
def test_any_content_type_charset_is_a_clean_answer(target, media_type, charset, credentials):
    method, path = target
    meta = {}
    if credentials == "basic":
        operator = "Basic " + base64.b64encode(b"operator:correct-horse-battery").decode()
        meta["HTTP_AUTHORIZATION"] = operator
    elif credentials == "csrf-token":
        meta["HTTP_X_CSRFTOKEN"] = CSRF
    body = (b'{"display_name": "Fuzz"}' if media_type == "application/json"
            else f"username=operator&password=x&csrfmiddlewaretoken={CSRF}".encode())
    response = post_raw(method, path, body, f"{media_type}; charset={charset}", **meta)
    assert_clean(response, path)


@pytest.mark.usefixtures("site")
@pytest.mark.parametrize("charset", NOT_TEXT_CODECS)
@pytest.mark.parametrize("target", [("post", "/api/agents/"),
                                    ("patch", "/api/agents/research-bot/")])
def test_a_json_body_in_a_codec_that_is_no_text_encoding_is_415(target, charset):
    method, path = target
    operator = "Basic " + base64.b64encode(b"operator:correct-horse-battery").decode()
    response = post_raw(method, path, b'{"display_name": "Fuzz"}',
                        f"application/json; charset={charset}", HTTP_AUTHORIZATION=operator)
    assert response.status_code == 415, response.content[:300]
    assert response.json()["code"] == ErrorCode.UNSUPPORTED_MEDIA_TYPE
    assert charset in response.json()["detail"]


@pytest.mark.usefixtures("site")
@pytest.mark.parametrize("charset", ["latin-1", "utf8", *NOT_TEXT_CODECS])
@pytest.mark.parametrize("target", ADMIN_FORMS)
def test_an_admin_form_post_in_another_charset_is_415(target, charset):
    method, path = target
    response = post_raw(method, path, f"username=operator&csrfmiddlewaretoken={CSRF}".encode(),
                        f"application/x-www-form-urlencoded; charset={charset}")
    assert response.status_code == 415, response.content[:300]
    assert ErrorCode.UNSUPPORTED_MEDIA_TYPE in response.content.decode()


@pytest.mark.usefixtures("site")
def test_an_admin_form_post_in_utf8_still_logs_in():
    response = post_raw("post", "/admin/login/",
                        f"username=operator&password=correct-horse-battery&"
                        f"csrfmiddlewaretoken={CSRF}".encode(),
                        "application/x-www-form-urlencoded; charset=UTF-8")
    assert response.status_code == 302, response.content[:300]


@pytest.mark.parametrize("handler", ["bad_request", "server_error"])
def test_the_error_pages_answer_a_request_whose_form_cannot_be_read(handler, rf):
    from django.core.exceptions import BadRequest

    from api import handlers

    request = rf.generic("POST", "/admin/login/", b"username=x",
                         content_type="application/x-www-form-urlencoded; charset=latin-1",
                         HTTP_COOKIE=f"csrftoken={CSRF}")
    with pytest.raises(BadRequest):
        request.POST  # noqa: B018  what the pages' CSRF decorator reads
    args = (request, BadRequest("unreadable")) if handler == "bad_request" else (request,)
    response = getattr(handlers, handler)(*args)
    assert response.status_code == (400 if handler == "bad_request" else 500)
