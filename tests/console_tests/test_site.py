"""The console is Django's default admin site and registers the agent's admin once.

`admin.site` is a `ConsoleSite`, its titles are the class's, and the agent's
admin is one class composed of the registry's admin and the token and
deploy panels. No product module unregisters a model or sets anything on
`admin.site`.
"""

from __future__ import annotations

import ast
from importlib import import_module
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib import admin
from django.test import Client

from agents.admin import AgentAdmin
from agents.models import Agent
from console.admin import ConsoleAgentAdmin
from console.sites import ConsoleSite
from deploys.admin import AgentDeployPanelMixin
from tokens.admin import AgentTokenPanelMixin

ROOT = Path(__file__).resolve().parents[2]


def product_dirs() -> dict[str, Path]:
    """Return the project package (the URLconf's) and each app whose code is this repository's.

    An app installed from a distribution is not (the virtualenv may be under
    the repository, too); an editable install of one of ours is.
    """
    project = Path(import_module(settings.ROOT_URLCONF).__file__).parent
    dirs = {project.name: project}
    dirs.update({config.label: Path(config.path) for config in apps.get_app_configs()
                 if Path(config.path).is_relative_to(ROOT)
                 and "site-packages" not in Path(config.path).parts})
    return dirs


def product_modules() -> list[Path]:
    return [path for app_dir in product_dirs().values() for path in sorted(app_dir.rglob("*.py"))
            if "migrations" not in path.parts]


def calls_named(tree: ast.AST, name: str) -> list[ast.Call]:
    """Return the calls of `name` or of `<anything>.name` in `tree`."""
    return [node for node in ast.walk(tree) if isinstance(node, ast.Call) and (
        (isinstance(node.func, ast.Name) and node.func.id == name)
        or (isinstance(node.func, ast.Attribute) and node.func.attr == name))]


def is_admin_site(node: ast.AST) -> bool:
    """Whether `node` is the expression `admin.site`."""
    return (isinstance(node, ast.Attribute) and node.attr == "site"
            and isinstance(node.value, ast.Name) and node.value.id == "admin")


def admin_site_settings(tree: ast.AST) -> list[str]:
    """Return `admin.site.<name>` for each attribute of `admin.site` that `tree` assigns."""
    targets = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            targets += node.targets
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            targets.append(node.target)
    return [f"admin.site.{target.attr}" for target in targets
            if isinstance(target, ast.Attribute) and is_admin_site(target.value)]


def test_the_default_admin_site_is_the_console():
    assert apps.get_app_config("admin").default_site == "console.sites.ConsoleSite"
    assert isinstance(admin.site, ConsoleSite)
    assert (admin.site.site_header, admin.site.site_title, admin.site.index_title) == (
        "TinyAgentOS control plane", "TinyAgentOS", "Agents, tokens and deploys")


@pytest.mark.django_db
def test_the_index_shows_the_consoles_titles(make_user):
    client = Client()
    client.force_login(make_user("root", superuser=True))
    text = client.get("/admin/").content.decode()
    assert "<title>Agents, tokens and deploys | TinyAgentOS</title>" in text
    assert "TinyAgentOS control plane" in text


def test_the_agent_is_registered_with_the_admin_composed_of_both_panels():
    model_admin = admin.site._registry[Agent]
    assert type(model_admin) is ConsoleAgentAdmin
    assert issubclass(ConsoleAgentAdmin, AgentAdmin)
    assert issubclass(ConsoleAgentAdmin, AgentTokenPanelMixin)
    assert issubclass(ConsoleAgentAdmin, AgentDeployPanelMixin)
    assert "latest_deploy" in model_admin.list_display
    assert {"archive", "deploy"} <= set(model_admin.actions)


def test_the_scan_covers_the_project_and_every_app():
    scanned = set(product_dirs())
    assert {"tinyagentos_site", "api", "access", "agents", "tokens", "deploys", "idempotency",
            "console"} <= scanned
    assert not scanned & {"admin", "auth", "rest_framework"}  # Django's and DRF's own


def test_only_the_console_registers_the_agent():
    registering = []
    for path in product_modules():
        tree = ast.parse(path.read_text())
        for call in calls_named(tree, "register"):
            if any(isinstance(arg, ast.Name) and arg.id == "Agent" for arg in call.args):
                registering.append(str(path.relative_to(ROOT)))
    assert registering == ["console/admin.py"]


def test_no_product_module_unregisters_a_model():
    unregistering = [str(path.relative_to(ROOT)) for path in product_modules()
                     if calls_named(ast.parse(path.read_text()), "unregister")]
    assert unregistering == []


def test_no_product_module_sets_anything_on_admin_site():
    assert admin_site_settings(ast.parse((ROOT / "tinyagentos_site" / "urls.py").read_text())
                               ) == []
    setting = {str(path.relative_to(ROOT)): names for path in product_modules()
               if (names := admin_site_settings(ast.parse(path.read_text())))}
    assert setting == {}


def test_the_checks_see_a_setting_an_unregister_and_a_registration():
    tree = ast.parse("admin.site.site_header = 'x'\nadmin.site.index_template += 'y'\n"
                     "admin.site.unregister(Agent)\nadmin.site.register(Agent, A)\n")
    assert admin_site_settings(tree) == ["admin.site.site_header", "admin.site.index_template"]
    assert len(calls_named(tree, "unregister")) == 1
    assert len(calls_named(tree, "register")) == 1
