"""A URLconf with one plain (non-admin, non-API) view, for APPEND_SLASH tests."""

from django.http import HttpResponse
from django.urls import path

urlpatterns = [path("plain/", lambda request: HttpResponse("ok"))]
