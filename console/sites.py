"""The back office: the admin site every app registers on (`admin.site` is a `ConsoleSite`).

Installed as Django's default site by `console.apps.ConsoleAdminConfig`, so
`admin.site` and `@admin.register` in every app mean this site. It owns the
titles and the index, which shows the fleet at a glance (console/fleet.py).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.template.response import TemplateResponse

from console.fleet import fleet_summary


class ConsoleSite(admin.AdminSite):
    """The TinyAgentOS admin: its titles, and an index that opens with the fleet."""

    site_header = "TinyAgentOS control plane"
    site_title = "TinyAgentOS"
    index_title = "Agents, tokens and deploys"
    index_template = "admin/console/index.html"
    # No "View site" link: the site has no page at "/" (the API's docs are at /api/docs/).
    site_url = None
    # No app sidebar beside every page: at 1280 px it takes 300 px, and a list
    # with its filter panel then scrolls its last columns out of view. The
    # index lists the apps; the breadcrumbs lead back to it.
    enable_nav_sidebar = False

    def index(self, request: HttpRequest,
              extra_context: dict[str, Any] | None = None) -> TemplateResponse:
        """Render the index with the fleet's counts, for a user who may see agents."""
        may_see = request.user.has_perm("agents.view_agent")
        context = {"fleet_summary": fleet_summary() if may_see else None,
                   **(extra_context or {})}
        return super().index(request, context)
