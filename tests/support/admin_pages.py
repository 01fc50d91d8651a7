"""Reading the admin's pages in tests: the one-time form key and any token secret shown."""

from __future__ import annotations

import re

from django.test import Client

from idempotency.forms import FORM_KEY_FIELD

# An agent (`taos_`) or operator (`taosop_`) token secret as the admin shows it once.
SECRET_RE = re.compile(r'<code class="token-secret">(taos(?:op)?_[0-9A-Za-z]+)</code>')
# The one-time idempotency key an admin form is rendered with.
KEY_RE = re.compile(rf'name="{FORM_KEY_FIELD}" value="([^"]+)"')


def secrets_on(response) -> list[str]:
    """Return every token secret the page of `response` shows."""
    return SECRET_RE.findall(response.content.decode())


def rendered_key(client: Client, url: str) -> str:
    """Render the form at `url` (following its redirect to the keyed URL); return its key."""
    [key] = KEY_RE.findall(client.get(url, follow=True).content.decode())
    return key
