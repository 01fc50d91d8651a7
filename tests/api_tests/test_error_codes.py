"""One catalogue of error codes (api/error_codes.py), all documented in docs/api.md ("Errors"), all used."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from api.error_codes import ErrorCode

ROOT = Path(__file__).resolve().parents[2]
API_DOC = ROOT / "docs" / "api.md"
PRODUCT_APPS = ["tinyagentos_site", "console", "deploys", "tokens", "agents", "access", "api",
                "packages/idempotency/src/idempotency"]
# Calls whose first (or second, for problem()) positional argument is a code.
CODE_ARGUMENT = {"problem": 1, "_auth_failed": 0, "MalformedToken": 0}


def documented_codes() -> set[str]:
    """Return the codes in the tables of docs/api.md's "Errors" section (second column)."""
    text = API_DOC.read_text()
    section = text.split("\n## Errors\n", 1)[1].split("\n## ", 1)[0]
    codes: set[str] = set()
    for line in section.splitlines():
        cells = line.split("|")
        if line.startswith("|") and len(cells) > 3 and not set(cells[2].strip()) <= {"-"}:
            codes.update(re.findall(r"`([a-z_]+)`", cells[2]))
    return codes


def test_every_catalogued_code_is_documented_in_the_api_doc():
    missing = {code.value for code in ErrorCode} - documented_codes()
    assert not missing, f"add these codes to docs/api.md's error tables: {sorted(missing)}"


def test_every_documented_code_is_in_the_catalogue():
    unknown = documented_codes() - {code.value for code in ErrorCode}
    assert not unknown, f"docs/api.md documents codes that ErrorCode lacks: {sorted(unknown)}"


def test_every_code_of_the_idempotency_package_is_catalogued():
    from idempotency.errors import ErrorCode as PackageErrorCode

    assert {code.value for code in PackageErrorCode} <= {code.value for code in ErrorCode}


def _bare_code_strings(tree: ast.AST) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = getattr(node.func, "id", getattr(node.func, "attr", ""))
            values = [kw.value for kw in node.keywords if kw.arg == "code"]
            if name in CODE_ARGUMENT and len(node.args) > CODE_ARGUMENT[name]:
                values.append(node.args[CODE_ARGUMENT[name]])
        elif isinstance(node, ast.Assign):
            names = [getattr(target, "id", "") for target in node.targets]
            values = [node.value] if {"code", "default_code"} & set(names) else []
        else:
            continue
        found += [(value.lineno, value.value) for value in values
                  if isinstance(value, ast.Constant) and isinstance(value.value, str)]
    return found


def product_modules() -> list[Path]:
    return [path for app in PRODUCT_APPS for path in sorted((ROOT / app).rglob("*.py"))
            if "migrations" not in path.parts]


@pytest.mark.parametrize("path", product_modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_product_module_writes_a_code_as_a_bare_string(path):
    bare = _bare_code_strings(ast.parse(path.read_text(), filename=str(path)))
    assert not bare, f"{path.relative_to(ROOT)}: use ErrorCode for {bare}"


def test_the_bare_string_check_finds_each_way_of_writing_a_code():
    source = '''
class E(ApiError):
    default_code = "a"
raise ValidationError("x", code="b")
problem(400, "c", "detail")
raise _auth_failed("d", "detail")
ok = problem(400, ErrorCode.INVALID, "detail")
'''
    assert [code for _, code in _bare_code_strings(ast.parse(source))] == ["a", "b", "c", "d"]
