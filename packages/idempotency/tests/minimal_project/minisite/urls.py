from django.urls import path

from notes.views import NotesView

urlpatterns = [path("notes/", NotesView.as_view())]
