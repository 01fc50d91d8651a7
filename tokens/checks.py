"""System checks for the token settings."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks

from access.checks import weak_secret

PEPPER_MIN_LENGTH = 32


@checks.register()
def check_token_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    messages: list[checks.CheckMessage] = []
    if settings.DATABASE_URL:
        reason = weak_secret(settings.TOKENS_PEPPER, min_length=PEPPER_MIN_LENGTH)
        if reason is not None:
            messages.append(checks.Error(
                f"TOKENS_PEPPER is too weak for production: {reason}.",
                hint="Generate one: python -c 'import secrets; print(secrets.token_urlsafe(48))' "
                     "(changing it invalidates every token).",
                id="tokens.E001"))
    ttl = settings.TOKENS_AGENT_TOKEN_TTL_SECONDS
    if not isinstance(ttl, int) or ttl < 0:
        messages.append(checks.Error(
            f"TOKENS_AGENT_TOKEN_TTL_SECONDS must be >= 0 (0: never expires), got {ttl!r}.",
            id="tokens.E002"))
    return messages
