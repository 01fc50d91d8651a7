"""Create the first superuser if there is none; print a generated password once."""

from __future__ import annotations

import os
import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "Create a superuser (DJANGO_SUPERUSER_USERNAME, default 'admin') if no superuser "
        "exists. The password is DJANGO_SUPERUSER_PASSWORD, else generated and printed once."
    )

    def handle(self, *args, **options) -> None:
        User = get_user_model()
        if User.objects.filter(is_superuser=True).exists():
            self.stdout.write("A superuser exists already; nothing to do.")
            return
        username = os.environ.get("DJANGO_SUPERUSER_USERNAME", "admin")
        password = os.environ.get("DJANGO_SUPERUSER_PASSWORD")
        generated = not password
        if generated:
            password = secrets.token_urlsafe(18)
        User.objects.create_superuser(username=username, email="", password=password)
        if generated:
            self.stdout.write(self.style.WARNING(
                f"Created superuser '{username}' with the password below. It is shown "
                f"only this once; change it in /admin/."
            ))
            self.stdout.write(password)
        else:
            self.stdout.write(f"Created superuser '{username}' (password from DJANGO_SUPERUSER_PASSWORD).")
