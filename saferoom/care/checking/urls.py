"""Drug checking and drug alert pages of a site."""

from django.urls import path  # noqa: F401

app_name = "checking"
urlpatterns: list = []
