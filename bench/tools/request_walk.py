"""List the project files whose code runs for one idempotent `POST /api/agents/`.

    .venv/bin/python -m bench.tools.request_walk

A newcomer following the request reads these (and the site's settings and
URLconfs, which route it). Runs on a throwaway SQLite database with the
embedded default's settings; traces with `sys.setprofile` during the second,
warm request (the first imports everything). Also lists each call into the
idempotency protocol (idempotency/protocol.py) from outside it: one, from
`@idempotent`.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROTOCOL = "/idempotency/protocol.py"


def main() -> None:
    tmp = tempfile.mkdtemp(prefix="taos-walk-")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tinyagentos_site.settings")
    os.environ["TAOS_SQLITE_PATH"] = str(Path(tmp, "db.sqlite3"))
    for name in ("DATABASE_URL", "REDIS_URL"):
        os.environ.pop(name, None)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.test import Client

    call_command("migrate", verbosity=0)
    call_command("createcachetable", verbosity=0)
    from tokens.services import operator_token_create

    user = User.objects.create_superuser("walker", "", "walker-password")
    secret = operator_token_create(user=user, name="walk").secret
    client = Client(HTTP_HOST="127.0.0.1")
    headers = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}  # as scripts call the API
    body = json.dumps({"display_name": "Walk Bot"})

    def post(key: str) -> int:
        return client.post("/api/agents/", body, content_type="application/json",
                           HTTP_IDEMPOTENCY_KEY=key, **headers).status_code

    post("warm-up")
    seen: dict[str, set[str]] = {}
    entries: list[str] = []
    root = f"{ROOT}/"

    def profile(frame, event, arg):  # noqa: ANN001 (sys.setprofile's signature)
        path = frame.f_code.co_filename
        if path.startswith(root) and "/.venv/" not in path and path != __file__:
            seen.setdefault(path[len(root):], set()).add(frame.f_code.co_name)
            caller = frame.f_back.f_code.co_filename if frame.f_back else ""
            if event == "call" and path.endswith(PROTOCOL) and not caller.endswith(PROTOCOL):
                entries.append(f"{frame.f_code.co_name} from {caller.removeprefix(root)}")

    sys.setprofile(profile)
    status = post("walk")
    sys.setprofile(None)
    print(f"POST /api/agents/ with an Idempotency-Key: {status}")
    for path in sorted(seen):
        print(f"  {path}: {', '.join(sorted(seen[path]))}")
    print(f"{len(seen)} project files run (plus settings.py and the URLconfs that route it)")
    print(f"{len(entries)} call(s) into the idempotency protocol: {'; '.join(entries)}")


if __name__ == "__main__":
    main()
