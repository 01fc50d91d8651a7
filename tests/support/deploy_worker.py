"""Run a manage.py command (the task worker) with fake tokens if the tokens app lacks them.

    python -m tests.support.deploy_worker db_worker --batch ...

Tests start real worker processes this way; with the tokens app merged this
is exactly `manage.py db_worker`.
"""

from __future__ import annotations

import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tinyagentos_site.settings")
    import django

    django.setup()
    from tests import fake_tokens

    fake_tokens.install_if_missing()
    from django.core.management import execute_from_command_line

    execute_from_command_line(["manage.py", *sys.argv[1:]])
