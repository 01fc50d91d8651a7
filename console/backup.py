"""Back up and restore the embedded default: the SQLite database and the secrets, in one file.

The tokens' digests are keyed with the pepper, so a database restored
without its pepper holds tokens no one can use; sessions are signed with
SECRET_KEY. One archive keeps the three together: a gzipped tar of

- `db.sqlite3`: a consistent copy made online with SQLite's backup API
  (the site may keep serving and writing meanwhile);
- `secret_key` and `tokens_pepper`: the values in effect;
- `manifest.json`: the format, when, and the pepper's fingerprint.

The archive is created 0600 and never overwrites a file. Restore writes the
database through the backup API too (so a WAL beside an old file cannot be
replayed onto it) and the secrets into var/, 0600.
"""

from __future__ import annotations

import io
import json
import os
import sqlite3
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import connections
from django.utils import timezone

from tokens.crypto import pepper_fingerprint

ARCHIVE_FORMAT = 1
DATABASE_MEMBER = "db.sqlite3"
SECRET_KEY_MEMBER = "secret_key"
PEPPER_MEMBER = "tokens_pepper"
MANIFEST_MEMBER = "manifest.json"
MEMBERS = (MANIFEST_MEMBER, DATABASE_MEMBER, SECRET_KEY_MEMBER, PEPPER_MEMBER)
PRIVATE_FILE = 0o600


class BackupError(Exception):
    """A backup or restore that cannot be done; the message says why and what to do."""


@dataclass(frozen=True)
class Manifest:
    format: int
    created_at: str
    pepper_fingerprint: str


def _sqlite_path() -> Path:
    database = settings.DATABASES["default"]
    if database["ENGINE"] != "django.db.backends.sqlite3":
        raise BackupError(
            "manage.py backup and restore are for the embedded default (SQLite). With "
            "DATABASE_URL, back up the database with its own tools and keep TOKENS_PEPPER "
            "with it: docs/production.md, \"Backups\".")
    return Path(database["NAME"])


def _timeout() -> float:
    return float(settings.DATABASES["default"].get("OPTIONS", {}).get("timeout", 20))


def _add(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = PRIVATE_FILE
    info.mtime = int(timezone.now().timestamp())
    archive.addfile(info, io.BytesIO(data))


def backup(destination: Path) -> Manifest:
    """Write the database, SECRET_KEY and TOKENS_PEPPER into a new 0600 archive at `destination`."""
    source_path = _sqlite_path()
    if not source_path.exists():
        raise BackupError(f"There is no database at {source_path} to back up (run migrate).")
    try:
        fd = os.open(destination, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    except FileExistsError:
        raise BackupError(f"{destination} exists; name a new file.") from None
    manifest = Manifest(format=ARCHIVE_FORMAT, created_at=timezone.now().isoformat(),
                        pepper_fingerprint=pepper_fingerprint(settings.TOKENS_PEPPER))
    try:
        with tempfile.TemporaryDirectory(dir=source_path.parent) as scratch:
            copy_path = Path(scratch) / DATABASE_MEMBER
            source = sqlite3.connect(source_path, timeout=_timeout())
            copy = sqlite3.connect(copy_path)
            try:
                source.backup(copy)  # one step: a consistent snapshot under a read lock
            finally:
                copy.close()
                source.close()
            with os.fdopen(fd, "wb") as handle, tarfile.open(fileobj=handle, mode="w:gz") as archive:
                _add(archive, MANIFEST_MEMBER, json.dumps(manifest.__dict__).encode())
                _add(archive, DATABASE_MEMBER, copy_path.read_bytes())
                _add(archive, SECRET_KEY_MEMBER, settings.SECRET_KEY.encode())
                _add(archive, PEPPER_MEMBER, settings.TOKENS_PEPPER.encode())
    except BaseException:
        destination.unlink(missing_ok=True)
        raise
    return manifest


def _read_archive(source: Path) -> dict[str, bytes]:
    try:
        with tarfile.open(source, mode="r:gz") as archive:
            found = {}
            for member in archive.getmembers():
                if member.name not in MEMBERS or not member.isfile() or member.name in found:
                    raise BackupError(f"{source} is not a backup of this site "
                                      f"(unexpected member {member.name!r}).")
                found[member.name] = archive.extractfile(member).read()
    except (OSError, tarfile.TarError) as exc:
        raise BackupError(f"{source} cannot be read as a backup: {exc}.") from None
    missing = [name for name in MEMBERS if name not in found]
    if missing:
        raise BackupError(f"{source} is not a whole backup: {', '.join(missing)} missing.")
    return found


def _write_private(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.restore-{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(tmp, path)


def restore(source: Path, *, force: bool = False) -> Manifest:
    """Restore the database and the secrets of the archive `source` into this site's var/.

    Refuses a site whose database already holds data unless `force` (stop the
    site first), and a TOKENS_PEPPER in the environment that is not the archive's.
    """
    target_path = _sqlite_path()
    members = _read_archive(source)
    try:
        manifest = Manifest(**json.loads(members[MANIFEST_MEMBER]))
    except (ValueError, TypeError):
        raise BackupError(f"{source} has an unreadable manifest.") from None
    if manifest.format != ARCHIVE_FORMAT:
        raise BackupError(f"{source} has format {manifest.format}; this site reads "
                          f"{ARCHIVE_FORMAT}.")
    pepper = members[PEPPER_MEMBER].decode()
    if pepper_fingerprint(pepper) != manifest.pepper_fingerprint:
        raise BackupError(f"{source} is damaged: its pepper is not the one its manifest names.")
    env_pepper = os.environ.get("TOKENS_PEPPER")
    if env_pepper and env_pepper != pepper:
        raise BackupError("TOKENS_PEPPER is set in the environment to another pepper than the "
                          "backup's; unset it (the restored var/tokens_pepper is used) or set "
                          "it to the backup's.")
    if target_path.exists() and target_path.stat().st_size and not force:
        raise BackupError(f"{target_path} exists: restore onto a fresh var/ (TAOS_VAR_DIR), or "
                          f"stop the site and pass --force to replace it.")
    connections.close_all()
    target_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target_path.parent) as scratch:
        copy_path = Path(scratch) / DATABASE_MEMBER
        copy_path.write_bytes(members[DATABASE_MEMBER])
        copy = sqlite3.connect(copy_path)
        target = sqlite3.connect(target_path, timeout=_timeout())
        try:
            copy.backup(target)
        finally:
            target.close()
            copy.close()
    var_dir = Path(settings.VAR_DIR)
    _write_private(var_dir / SECRET_KEY_MEMBER, members[SECRET_KEY_MEMBER])
    _write_private(var_dir / PEPPER_MEMBER, members[PEPPER_MEMBER])
    return manifest
