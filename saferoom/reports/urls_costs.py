"""Operating costs a manager enters by month (indicator C1)."""

from django.urls import path

from saferoom.reports import views_costs

app_name = "costs"

urlpatterns = [
    path("", views_costs.costs, name="list"),
    path("enter/", views_costs.enter, name="enter"),
]
