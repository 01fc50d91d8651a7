"""Signals of access control, for whoever counts them (the metrics app).

`authentication` is sent once per credential checked, with `method=` one of
METHODS and `outcome=` SUCCESS or the stable error code the client gets
(api/error_codes.py: `authentication_failed` for a wrong password,
`authentication_locked_out`, `throttled`, `token_unknown`, ...).
Never a user name, an address or a secret: receivers may count them as they are.
"""

from __future__ import annotations

from django.dispatch import Signal

from api.error_codes import ErrorCode

SESSION = "session"  # the admin's password login
BASIC = "basic"  # HTTP Basic on the API (TAOS_API_BASIC_AUTH)
OPERATOR_TOKEN = "operator_token"
AGENT_TOKEN = "agent_token"
BEARER = "bearer"  # a Bearer header too malformed to tell which kind of token it is
METHODS = (SESSION, BASIC, OPERATOR_TOKEN, AGENT_TOKEN, BEARER)

SUCCESS = "success"
LOCKED_OUT = str(ErrorCode.AUTHENTICATION_LOCKED_OUT)
INVALID_CREDENTIALS = str(ErrorCode.AUTHENTICATION_FAILED)
THROTTLED = str(ErrorCode.THROTTLED)

authentication = Signal()


def send_authentication(method: str, outcome: str) -> None:
    authentication.send(sender=None, method=method, outcome=outcome)
