"""Only the idempotency package's engine modules ask which database runs (`connection.vendor`).

Everything else calls the engine chosen once in idempotency/engines/__init__.py;
migrations aside (idempotency migration 0002 changes a MariaDB collation).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "packages" / "idempotency" / "src" / "idempotency"
ENGINES = PACKAGE / "engines"
# The package and every app of the project that exists.
SCANNED = [PACKAGE] + [ROOT / app for app in ("tinyagentos_site", "agents", "tokens", "deploys",
                                              "access", "api", "console")
                       if (ROOT / app).is_dir()]


def vendor_tests(source: str) -> list[int]:
    """Return the lines of `source` that read a `vendor` attribute (`x.vendor`, `getattr(x, "vendor")`)."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr == "vendor":
            lines.append(node.lineno)
        elif (isinstance(node, ast.Call) and getattr(node.func, "id", "") == "getattr"
              and len(node.args) > 1 and isinstance(node.args[1], ast.Constant)
              and node.args[1].value == "vendor"):
            lines.append(node.lineno)
    return lines


def product_modules() -> list[Path]:
    return [path for directory in SCANNED for path in sorted(directory.rglob("*.py"))
            if "migrations" not in path.parts and not path.is_relative_to(ENGINES)]


def test_no_product_module_outside_the_engines_tests_the_vendor():
    offenders = {str(path.relative_to(ROOT)): lines for path in product_modules()
                 if (lines := vendor_tests(path.read_text()))}
    assert offenders == {}


def test_the_engines_choose_by_vendor_and_the_check_sees_it():
    chooser = (ENGINES / "__init__.py").read_text()
    assert vendor_tests(chooser)
    assert vendor_tests("if connection.vendor == 'mysql':\n    pass\n") == [1]
    assert vendor_tests("v = getattr(connection, 'vendor')\n") == [1]
