"""The client's exceptions: the API's problem details, transport failures, lost answers."""

from __future__ import annotations

from typing import Any


class TaosError(Exception):
    """Base of every error this client raises."""


class ApiError(TaosError):
    """The API answered with an error (an RFC 9457 problem, `application/problem+json`).

    `code` is the API's stable error code (`docs/api.md`, "Errors"), `errors`
    the field errors (`{"display_name": [{"message": ..., "code": ...}]}`),
    `request_id` the server's `X-Request-ID` when it sends one, else None.
    """

    def __init__(self, *, status: int, code: str, detail: str, errors: dict[str, Any] | None = None,
                 request_id: str | None = None, retry_after: float | None = None,
                 method: str = "", path: str = ""):
        self.status = status
        self.code = code
        self.detail = detail
        self.errors = errors or {}
        self.request_id = request_id
        self.retry_after = retry_after
        self.method = method
        self.path = path
        self.call: Any = None  # the CallInfo of the call that ended here (attempts, lost answers)
        super().__init__(self._message())

    def _message(self) -> str:
        text = f"{self.status} {self.code}: {self.detail}"
        for field, problems in self.errors.items():
            for problem in problems if isinstance(problems, list) else [problems]:
                if isinstance(problem, dict):
                    text += f"\n  {field}: {problem.get('message', '')} ({problem.get('code', '')})"
                else:
                    text += f"\n  {field}: {problem}"
        return text

    def field_codes(self) -> dict[str, list[str]]:
        """Return each field's error codes, e.g. `{"display_name": ["blank"]}`."""
        return {field: [p.get("code", "") for p in problems if isinstance(p, dict)]
                for field, problems in self.errors.items() if isinstance(problems, list)}


class TransportError(TaosError):
    """No answer after every retry: the server could not be reached, or its answers were lost.

    `maybe_applied` is True when at least one attempt was sent and its answer
    lost: the server may have done it (a keyed call can be retried later with
    the same `idempotency_key` to get its answer).
    """

    def __init__(self, message: str, *, attempts: int, maybe_applied: bool,
                 idempotency_key: str | None = None):
        self.attempts = attempts
        self.maybe_applied = maybe_applied
        self.idempotency_key = idempotency_key
        super().__init__(message)


class TokenAnswerLost(TaosError):
    """A token issue's or rotation's answer was lost, and the secret with it.

    Token answers are never replayed (a secret is never stored for replay).
    After a lost issue the retry answers 409 `token_already_active`: the agent
    may hold a token whose secret nobody received. After a lost rotation with
    no retry left, the old token may be revoked and the new secret lost.
    Either way: rotate (`Client.token_rotate`, `taos token rotate SLUG`) to
    get a secret. `cause` is the 409 or the transport error.
    """

    def __init__(self, slug: str, *, operation: str, cause: Exception):
        self.slug = slug
        self.operation = operation
        self.cause = cause
        if operation == "issue":
            what = ("the agent may now hold a token whose secret nobody received "
                    "(a token issue is never replayed)")
        else:
            what = ("the rotation may have happened: the old token may be revoked and "
                    "the new secret was not received")
        super().__init__(f"The answer to the token {operation} for {slug!r} was lost in transit; "
                         f"{what}. Rotate to get a secret: taos token rotate {slug}")
