"""A fast password hasher for live servers that counts its runs in a file.

With TAOS_TEST_HASHER_COUNT_FILE set, every password check (and every hash
made for an unknown user name, which Django runs to keep timings alike)
appends one line to that file, so that a test can count how many guesses
reached the hasher across every worker.
"""

from __future__ import annotations

import os
import threading

from django.contrib.auth.hashers import MD5PasswordHasher

_inside_verify = threading.local()


def _count(event: str) -> None:
    path = os.environ.get("TAOS_TEST_HASHER_COUNT_FILE")
    if path:
        # O_APPEND: one short write a line, whole, from any number of processes.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, f"{event} {os.getpid()}\n".encode())
        finally:
            os.close(fd)


class CountingMD5PasswordHasher(MD5PasswordHasher):
    algorithm = "md5"

    def verify(self, password: str, encoded: str) -> bool:
        _count("verify")
        _inside_verify.active = True  # MD5's verify encodes: one check, one line
        try:
            return super().verify(password, encoded)
        finally:
            _inside_verify.active = False

    def encode(self, password: str, salt: str) -> str:
        if not getattr(_inside_verify, "active", False):
            _count("encode")
        return super().encode(password, salt)
