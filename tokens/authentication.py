"""DRF authentication by `Authorization: Bearer <token>`, for agents and operators.

Both classes come first in DEFAULT_AUTHENTICATION_CLASSES. A Bearer header is
ours: a malformed token (missing, wrong prefix, wrong length or characters,
bad checksum) is refused with 401 before any query, so it can never fall
through to the session cookie. A well-formed token costs one query (the
lookup by prefix, joined to its agent or user); `last_used_at` costs one more
statement at most once a minute. There is no cache of authentication
results, so a revocation holds on every worker and host as soon as it commits.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.request import Request

from agents.models import Agent
from access import lockout, signals
from access.basic_auth import locked_out
from access.client_address import client_address
from api.error_codes import ErrorCode
from tokens import crypto
from tokens.models import AgentToken, BaseToken, OperatorToken
from tokens.usage import token_mark_used

KEYWORD = "bearer"
REALM = "api"
# Guesses: a well-formed token that names no token, counted per client
# address (access/lockout.py). A malformed one is refused without
# a query and cannot be a lucky guess; a revoked or expired token, or one of
# an inactive user, was a real secret (no guess) and its precise 401 tells a
# stale agent what to do, without locking out its host's address.
COUNTED_FAILURES = {ErrorCode.TOKEN_UNKNOWN}


class AgentPrincipal:
    """The caller of a request authenticated by an agent token.

    Not a Django user: it holds no permissions, so every operator endpoint
    refuses it, and `principal_for()` keys it as `agent:<id>`.
    """

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False
    pk = None
    id = None

    def __init__(self, agent: Agent):
        self.agent = agent

    def __str__(self) -> str:
        return f"agent:{self.agent.name}"

    def __repr__(self) -> str:
        return f"<AgentPrincipal agent={self.agent.name!r}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AgentPrincipal) and other.agent.pk == self.agent.pk

    def __hash__(self) -> int:
        return hash(("agent", self.agent.pk))

    def get_username(self) -> str:
        return str(self)

    def has_perm(self, perm: str, obj: Any = None) -> bool:
        return False

    def has_perms(self, perm_list: Any, obj: Any = None) -> bool:
        return False

    def has_module_perms(self, app_label: str) -> bool:
        return False


def _first_code(exc: exceptions.APIException) -> str:
    codes = exc.get_codes()
    return codes if isinstance(codes, str) else ""


def _auth_failed(code: str, detail: str) -> exceptions.AuthenticationFailed:
    return exceptions.AuthenticationFailed(detail, code=code)


def bearer_token(request: Request) -> crypto.ParsedToken | None:
    """Return the parsed Bearer token of `request`, None without one; no query.

    Raise AuthenticationFailed (401) with a stable code for a malformed one.
    """
    if not _has_bearer_header(request):
        return None
    parts = get_authorization_header(request).split()
    if len(parts) == 1:
        raise _auth_failed(ErrorCode.TOKEN_MISSING, "No token was given after 'Bearer'.")
    if len(parts) > 2:
        raise _auth_failed(ErrorCode.TOKEN_MALFORMED, "The token may not contain spaces.")
    try:
        raw = parts[1].decode("ascii")
    except UnicodeDecodeError:
        raise _auth_failed(ErrorCode.TOKEN_MALFORMED, "The token has the wrong length or characters.") from None
    try:
        return crypto.parse(raw)
    except crypto.MalformedToken as exc:
        raise _auth_failed(exc.code, exc.detail) from None


def _has_bearer_header(request: Request) -> bool:
    parts = get_authorization_header(request).split()
    return bool(parts) and parts[0].lower() == KEYWORD.encode()


def _lookup(model: type[BaseToken], related: str, prefix: str) -> Any:
    try:
        return model.objects.select_related(related).get(prefix=prefix)
    except model.DoesNotExist:
        return None


def check_token(token: BaseToken | None, parsed: crypto.ParsedToken) -> BaseToken:
    """Return `token` if it is the one `parsed` names and is usable; else raise 401."""
    if token is None or not crypto.digests_match(token.digest, parsed.raw):
        raise _auth_failed(ErrorCode.TOKEN_UNKNOWN, "The token is not known.")
    if token.revoked_at is not None:
        raise _auth_failed(ErrorCode.TOKEN_REVOKED, "The token has been revoked.")
    if token.is_expired:
        raise _auth_failed(ErrorCode.TOKEN_EXPIRED, "The token has expired.")
    return token


class _BearerAuthentication(BaseAuthentication):
    kind: crypto.Kind

    def authenticate(self, request: Request) -> tuple[Any, BaseToken] | None:
        try:
            parsed = bearer_token(request)
        except exceptions.AuthenticationFailed as exc:
            signals.send_authentication(signals.BEARER, _first_code(exc) or "failed")
            raise
        if parsed is None or parsed.kind is not self.kind:
            return None
        counted_as = (signals.AGENT_TOKEN if self.kind is crypto.Kind.AGENT
                      else signals.OPERATOR_TOKEN)
        try:
            authenticated = self.authenticate_token(parsed)
        except exceptions.AuthenticationFailed as exc:
            code = _first_code(exc)
            if code in COUNTED_FAILURES:
                retry_after = lockout.token_failed(method=f"bearer-{self.kind.name.lower()}",
                                                   address=client_address(request))
                if retry_after is not None:
                    signals.send_authentication(counted_as, signals.LOCKED_OUT)
                    raise locked_out(retry_after) from None
            signals.send_authentication(counted_as, code or "failed")
            raise
        signals.send_authentication(counted_as, signals.SUCCESS)
        return authenticated

    def authenticate_token(self, parsed: crypto.ParsedToken) -> tuple[Any, BaseToken]:
        raise NotImplementedError

    def authenticate_header(self, request: Request) -> str:
        """Name every scheme to an anonymous caller, only Bearer to a failed token."""
        own = f'Bearer realm="{REALM}"'
        if _has_bearer_header(request):
            return f'{own}, error="invalid_token"'
        others = [
            header for authenticator in getattr(request, "authenticators", ())
            if not isinstance(authenticator, _BearerAuthentication)
            and (header := authenticator.authenticate_header(request))
        ]
        # Other schemes first: HTTP Basic clients that wait for a challenge
        # take the first scheme they know.
        return ", ".join([*others, own])


class AgentTokenAuthentication(_BearerAuthentication):
    """`Authorization: Bearer taos_...`: `request.user` is an AgentPrincipal."""

    kind = crypto.Kind.AGENT

    def authenticate_token(self, parsed: crypto.ParsedToken) -> tuple[AgentPrincipal, AgentToken]:
        token = _lookup(AgentToken, "agent", parsed.prefix)
        check_token(token, parsed)
        token_mark_used(token=token, now=timezone.now())
        return AgentPrincipal(token.agent), token


class OperatorTokenAuthentication(_BearerAuthentication):
    """`Authorization: Bearer taosop_...`: `request.user` is the token's Django user."""

    kind = crypto.Kind.OPERATOR

    def authenticate_token(self, parsed: crypto.ParsedToken) -> tuple[Any, OperatorToken]:
        token = _lookup(OperatorToken, "user", parsed.prefix)
        check_token(token, parsed)
        if not token.user.is_active:
            raise _auth_failed(ErrorCode.USER_INACTIVE, "The token's user is inactive.")
        token_mark_used(token=token, now=timezone.now())
        return token.user, token
