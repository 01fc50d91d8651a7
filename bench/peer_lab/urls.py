from django.urls import path

from bench.peer_lab import views

urlpatterns = [
    path("notes/", views.NoteCreate.as_view()),
    path("healthz", views.healthz),
]
