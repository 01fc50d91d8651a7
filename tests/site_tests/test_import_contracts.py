"""Imports flow one way (the .importlinter contracts); no module takes another's private names."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Each top-level package of the product and the directory that holds it.
APPS = {
    "tinyagentos_site": ROOT / "tinyagentos_site",
    "console": ROOT / "console",
    "deploys": ROOT / "deploys",
    "tokens": ROOT / "tokens",
    "agents": ROOT / "agents",
    "access": ROOT / "access",
    "api": ROOT / "api",
    "idempotency": ROOT / "packages" / "idempotency" / "src" / "idempotency",
}
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(LINT_IMPORTS), "--no-cache", str(config)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def test_the_import_contracts_are_kept():
    result = lint_imports(ROOT / ".importlinter")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 8 kept, 0 broken." in result.stdout


def test_a_layer_order_against_the_code_is_reported(tmp_path):
    config = (ROOT / ".importlinter").read_text().replace(
        "    deploys\n    tokens\n    agents\n", "    agents\n    tokens\n    deploys\n", 1)
    (tmp_path / "reversed.ini").write_text(config)
    result = lint_imports(tmp_path / "reversed.ini")
    assert result.returncode != 0
    assert "deploys is not allowed to import tokens" in result.stdout


def test_a_forbidden_import_against_the_code_is_reported(tmp_path):
    # The bench does import the harness: forbidding it must break the contract.
    config = (ROOT / ".importlinter").read_text().replace(
        "source_modules =\n    bench\nforbidden_modules =\n    tests\n",
        "source_modules =\n    bench\nforbidden_modules =\n    harness\n", 1)
    (tmp_path / "bench-without-harness.ini").write_text(config)
    result = lint_imports(tmp_path / "bench-without-harness.ini")
    assert result.returncode != 0
    assert "bench is not allowed to import harness" in result.stdout
    assert "bench.running_site -> harness.gunicorn" in result.stdout


def private_imports(path: Path) -> list[str]:
    """Return `module._name` for each private name `path` imports from another module."""
    app = next(name for name, directory in APPS.items() if path.is_relative_to(directory))
    own = ".".join(path.relative_to(APPS[app].parent).with_suffix("").parts)
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 \
                and node.module.split(".")[0] in APPS and node.module != own:
            found += [f"{node.module}.{alias.name}" for alias in node.names
                      if alias.name.startswith("_")]
    return found


def test_no_product_module_imports_another_modules_private_names():
    offenders = {
        str(path.relative_to(ROOT)): names
        for directory in APPS.values() for path in sorted(directory.rglob("*.py"))
        if "migrations" not in path.parts and (names := private_imports(path))
    }
    assert offenders == {}


def test_the_private_name_check_sees_one(tmp_path):
    module = ROOT / "agents" / "zz_probe_private_import.py"
    module.write_text("from idempotency.services import _insert\n")
    try:
        assert private_imports(module) == ["idempotency.services._insert"]
    finally:
        module.unlink()
