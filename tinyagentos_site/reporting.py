"""What Django's error reports (the DEBUG page, the mailed reports) show of the settings.

Django's own filter hides a setting whose *name* looks secret (PASSWORD,
SECRET_KEY, ...) but shows URLs as they are: DATABASE_URL, REDIS_URL and a
cache's LOCATION carry their password inside the value. This filter masks
the password of every URL-shaped string setting, at any depth
(DATABASES, CACHES), and keeps the rest readable.
"""

from __future__ import annotations

import re
from typing import Any

from django.views.debug import SafeExceptionReporterFilter

# scheme://user:password@host -> scheme://user:********************@host;
# also scheme://:password@host (Redis without a user name).
URL_PASSWORD_RE = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^:/@\s]*:)(?P<password>[^@\s]*)(?=@)",
                             re.IGNORECASE)


def mask_url_passwords(text: str, substitute: str) -> str:
    """Return `text` with the password of every URL in it replaced by `substitute`."""
    return URL_PASSWORD_RE.sub(lambda match: match["head"] + substitute, text)


class SettingsFilter(SafeExceptionReporterFilter):
    """Django's filter, and the passwords inside URL-valued settings masked too."""

    def cleanse_setting(self, key: Any, value: Any) -> Any:
        cleansed = super().cleanse_setting(key, value)
        if isinstance(cleansed, str) and cleansed != self.cleansed_substitute:
            return mask_url_passwords(cleansed, self.cleansed_substitute)
        return cleansed
