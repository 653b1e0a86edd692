"""Supplies, stock and services pages of a site."""

from django.urls import path  # noqa: F401

app_name = "supplies"
urlpatterns: list = []
