"""Migrate a fresh bench database and create the operator the load authenticates as.

Run by the bench as `python -m bench.prepare --username NAME` in the
engine's environment, with the password in BENCH_OPERATOR_PASSWORD. Prints
one JSON line last.

The operator is a staff user (so it can log in to the admin once and reuse
that session) with every permission of the control plane's apps, but not a
superuser: permission checks run as they do for a real operator.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

# Apps whose permissions the operator gets; the absent ones are skipped, so
# this works before and after the idempotency app exists.
OPERATOR_APPS = ("agents", "tokens", "idempotency")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--username", required=True)
    parser.add_argument("--skip-static", action="store_true",
                        help="TAOS_STATIC_ROOT holds the collected files already (another site of "
                             "the same run collected them)")
    args = parser.parse_args(argv)
    password = os.environ["BENCH_OPERATOR_PASSWORD"]

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tinyagentos_site.settings")
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Permission
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    call_command("createcachetable", verbosity=0)
    # The admin login page (how the session auth method logs in) needs the
    # collected static files' manifest, as under `make run`.
    if not args.skip_static:
        call_command("collectstatic", interactive=False, verbosity=0)
    User = get_user_model()
    user = User.objects.create_user(args.username, "", password, is_staff=True)
    permissions = Permission.objects.filter(content_type__app_label__in=OPERATOR_APPS)
    user.user_permissions.set(permissions)
    apps = sorted(set(permissions.values_list("content_type__app_label", flat=True)))
    print(json.dumps({
        "user_id": user.pk,
        "summary": f"migrated{'' if args.skip_static else ', static collected'}; "
                   f"operator {args.username!r} "
                   f"(staff, {permissions.count()} permissions on {', '.join(apps)})",
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
