"""Keep the embedded default's files private: its directory 0700, every file in it 0600.

The SQLite file holds password hashes, session keys and token digests, and
var/ holds the generated secrets. Modes are fixed in two ways, both at
settings load: the process's umask becomes 0o077, so that whatever it (or
SQLite, for the -wal and -shm files it makes later, or gunicorn's workers,
which inherit it) creates next is private; and what already exists is
chmod-ed, so that files from before this rule, or copied in, follow it too.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

PRIVATE_UMASK = 0o077
DIRECTORY_MODE = 0o700
FILE_MODE = 0o600
# The files SQLite keeps beside its database in WAL mode.
SQLITE_COMPANIONS = ("", "-wal", "-shm", "-journal")


def _restrict(path: Path, mode: int) -> None:
    """Set `path`'s permission bits to `mode` unless they are already; skip symlinks."""
    try:
        st = path.lstat()
        if stat.S_ISLNK(st.st_mode) or stat.S_IMODE(st.st_mode) == mode:
            return
        path.chmod(mode)
    except FileNotFoundError:
        return
    except PermissionError:
        # Not ours (another user copied it in): the site can still run; the
        # directory's 0700 keeps other users out of it anyway.
        return


def make_private(directory: Path, *, extra_files: tuple[Path, ...] = ()) -> None:
    """Set the umask to 0o077 and make `directory` (created if missing) 0700 and its files 0600.

    `extra_files` are files outside `directory` (a SQLite file elsewhere), made
    0600 with their SQLite companions; their directory is left as it is.
    """
    os.umask(PRIVATE_UMASK)
    directory.mkdir(parents=True, exist_ok=True, mode=DIRECTORY_MODE)
    _restrict(directory, DIRECTORY_MODE)
    for root, dirs, files in os.walk(directory):
        base = Path(root)
        for name in dirs:
            _restrict(base / name, DIRECTORY_MODE)
        for name in files:
            _restrict(base / name, FILE_MODE)
    for path in extra_files:
        for suffix in SQLITE_COMPANIONS:
            _restrict(path.with_name(path.name + suffix), FILE_MODE)
