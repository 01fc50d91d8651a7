"""Where `taos login` keeps the server URL and the token, and where the CLI finds them.

The file is `$XDG_CONFIG_HOME/taos/config.json` (default
`~/.config/taos/config.json`), written with mode 0600 in a 0700 directory.
With `taos login --keyring` and the `keyring` package installed, the token
goes to the system keyring (service `taos`, user name the URL) and the
file keeps the URL only. Precedence when the CLI runs: `--url`, then
`TAOS_URL` and `TAOS_TOKEN`, then the file, then the keyring.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

KEYRING_SERVICE = "taos"


def config_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "taos" / "config.json"


@dataclass
class Login:
    url: str | None = None
    token: str | None = None
    keyring: bool = False


def read_login(path: Path | None = None) -> Login:
    """Return what `taos login` stored (empty when nothing is)."""
    path = path or config_path()
    try:
        data = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return Login()
    login = Login(url=data.get("url"), token=data.get("token"), keyring=bool(data.get("keyring")))
    if login.keyring and login.url and not login.token:
        login.token = _keyring_get(login.url)
    return login


def write_login(url: str, token: str, *, use_keyring: bool = False,
                path: Path | None = None) -> Path:
    """Store the URL and the token; return the file written (mode 0600)."""
    path = path or config_path()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    data: dict[str, object] = {"url": url}
    if use_keyring:
        _keyring_set(url, token)
        data["keyring"] = True
    else:
        data["token"] = token
    # Created 0600 before the secret is written: never readable by others, not even briefly.
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(data, f)
        f.write("\n")
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return path


def keyring_available() -> bool:
    try:
        import keyring  # noqa: F401
    except ImportError:
        return False
    return True


def _keyring_get(url: str) -> str | None:
    try:
        import keyring
        return keyring.get_password(KEYRING_SERVICE, url)
    except Exception:  # no keyring package or no backend: as if nothing were stored
        return None


def _keyring_set(url: str, token: str) -> None:
    import keyring
    keyring.set_password(KEYRING_SERVICE, url, token)
