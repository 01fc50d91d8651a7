"""URLs of live test servers: the production URLconf with the agents routed to a delayable view.

Every path answers as in production (same views, same names); only
`DelayedAgentViewSet` honours `X-Test-Delay` on `POST /api/agents/`.
"""

from __future__ import annotations

from django.urls import path

from harness.live_views import DelayedAgentViewSet
from tinyagentos_site import urls as site_urls

# Only the agents' list route is shadowed (matched first, same name); every
# other path, `/api/agents/deploy/` and the detail routes included, is the
# production URLconf's.
urlpatterns = [
    path("api/agents/", DelayedAgentViewSet.as_view({"get": "list", "post": "create"}),
         name="agent-list"),
    *site_urls.urlpatterns,
]

handler400 = site_urls.handler400
handler403 = site_urls.handler403
handler404 = site_urls.handler404
handler500 = site_urls.handler500
