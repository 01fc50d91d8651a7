"""System checks for the token settings."""

from __future__ import annotations

from pathlib import Path
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


# Checks with this tag also run when gunicorn starts (gunicorn.conf.py,
# `on_starting`): their errors keep the site from serving at all.
STARTUP_TAG = "startup"


@checks.register(STARTUP_TAG)
def check_tokens_pepper(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Stop a start whose pepper is missing or is not the one the stored tokens were made with."""
    from tokens.pepper import pepper_state  # models: import when the check runs

    state = pepper_state()
    if state is None:
        return []
    pepper_file = Path(settings.VAR_DIR) / "tokens_pepper"
    keep = ("Keep the pepper with the database's backups: docs/production.md, \"Backups\" "
            "(the embedded default: manage.py backup and restore).")
    if not settings.TOKENS_PEPPER:
        return [checks.Error(
            f"TOKENS_PEPPER is unset and {pepper_file} is missing, while the database exists: "
            f"no new pepper is made for it, since its {state.tokens} stored token(s) work "
            f"only with the pepper they were made with.",
            hint=f"Put the old pepper back in {pepper_file} (or TOKENS_PEPPER), e.g. with "
                 f"manage.py restore from a backup. {keep}" + (
                     "" if state.tokens else f" With no token stored, a new pepper is safe: "
                     f"python -c 'import secrets; print(secrets.token_urlsafe(48))' "
                     f"> {pepper_file}"),
            id="tokens.E003")]
    if not state.matches:
        return [checks.Error(
            f"TOKENS_PEPPER does not match the pepper the database's {state.tokens} stored "
            f"token(s) were made with (the database keeps its fingerprint): every one of them "
            f"would be refused as token_unknown.",
            hint=f"Set TOKENS_PEPPER (or {pepper_file} on the embedded default) back to that "
                 f"pepper. To give those tokens up instead, delete the row of "
                 f"tokens_pepperfingerprint (manage.py dbshell) and issue new tokens. {keep}",
            id="tokens.E004")]
    return []
