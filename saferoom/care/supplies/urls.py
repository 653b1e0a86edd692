"""Supplies, stock and services pages of a site, under /sites/<site>/care/. Only ids travel:
visits, give-outs and services by number, in the path or the POST body."""

from django.urls import path

from saferoom.care.supplies import views

app_name = "supplies"

urlpatterns = [
    path("visits/<int:pk>/", views.visit_care, name="visit"),
    path("walk-in/", views.walk_in, name="walk_in"),
    path("give/", views.give, name="give"),
    path("service/", views.give_service, name="service"),
    path("reverse/", views.reverse_give_out, name="reverse"),
    path("service/void/", views.void_service, name="void_service"),
    path("stock/", views.stock, name="stock"),
    path("stock/count/", views.stock_take, name="stock_take"),
    path("stock/<int:pk>/", views.stock_item, name="item"),
    path("stock/<int:pk>/receive/", views.receive, name="receive"),
    path("stock/<int:pk>/count/", views.count, name="count"),
    path("stock/<int:pk>/adjust/", views.adjust, name="adjust"),
    path("stock/<int:pk>/threshold/", views.threshold, name="threshold"),
]
