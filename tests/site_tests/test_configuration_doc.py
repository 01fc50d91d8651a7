"""docs/configuration.md lists every environment variable the site reads, and only those.

The site reads its environment in tinyagentos_site/settings.py (through the
helpers of tinyagentos_site/env.py), in gunicorn.conf.py and in its
management commands (the first superuser's name and password).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "configuration.md"
# Helpers whose first positional argument is the name of an environment variable.
ENV_HELPERS = {"env_str", "env_int", "env_bool", "env_list", "secret_from_env_or_file"}
# Top-level folders that are not the site: their variables are documented with them.
NOT_THE_SITE = {"tests", "bench", "harness", "packages", "docs", "var"}


def reading_modules() -> list[Path]:
    """Return the modules whose environment reads are the site's settings."""
    commands = [path for path in sorted(ROOT.glob("*/management/commands/*.py"))
                if path.relative_to(ROOT).parts[0] not in NOT_THE_SITE
                and not path.relative_to(ROOT).parts[0].startswith(".")]
    return [ROOT / "tinyagentos_site" / "settings.py", ROOT / "gunicorn.conf.py", *commands]


def _is_environ(node: ast.AST) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == "environ"


def variables_read(tree: ast.AST) -> set[str]:
    """Return the names of the environment variables `tree` reads, as literal strings."""
    names: set[str] = set()
    for node in ast.walk(tree):
        argument = None
        if isinstance(node, ast.Call) and node.args:
            func = node.func
            name = getattr(func, "id", getattr(func, "attr", ""))
            if name in ENV_HELPERS or name == "getenv" or (
                    name == "get" and isinstance(func, ast.Attribute) and _is_environ(func.value)):
                argument = node.args[0]
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load) \
                and _is_environ(node.value):
            argument = node.slice
        if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
            names.add(argument.value)
    return names


def read_by_the_site() -> dict[str, set[str]]:
    """Return, per variable the site reads, the modules that read it."""
    readers: dict[str, set[str]] = {}
    for path in reading_modules():
        for name in variables_read(ast.parse(path.read_text(), filename=str(path))):
            readers.setdefault(name, set()).add(str(path.relative_to(ROOT)))
    return readers


def documented() -> set[str]:
    """Return the variables in the first column of docs/configuration.md's tables."""
    names: set[str] = set()
    for line in DOC.read_text().splitlines():
        cells = line.split("|")
        if line.startswith("|") and len(cells) > 2:
            names.update(re.findall(r"`([A-Z][A-Z0-9_]*)`", cells[1]))
    return names


def test_the_site_reads_its_settings_from_these_modules():
    readers = read_by_the_site()
    assert "DATABASE_URL" in readers and "TAOS_BIND" in readers, sorted(readers)


def test_every_variable_the_site_reads_is_documented():
    readers = read_by_the_site()
    missing = {name: sorted(readers[name]) for name in set(readers) - documented()}
    assert not missing, f"add these to docs/configuration.md (read by): {missing}"


def test_every_documented_variable_is_read_by_the_site():
    unknown = documented() - set(read_by_the_site())
    assert not unknown, f"docs/configuration.md documents variables nothing reads: {sorted(unknown)}"


def test_the_collector_finds_each_way_of_reading_a_variable():
    source = '''
import os
a = env_str("A")
b = env.env_int("B", 1)
c = env_bool("C", False)
d = env_list("D", [])
e = secret_from_env_or_file("E", path, required=False)
f = os.environ.get("F", "x")
g = os.environ["G"]
h = os.getenv("H")
os.environ.setdefault("NOT_READ", "x")
os.environ["NOT_READ_EITHER"] = "x"
other = mapping.get("NOT_AN_ENVIRONMENT")
'''
    assert variables_read(ast.parse(source)) == set("ABCDEFGH")
