"""Evaluation and capacity-planning pages of a site."""

from django.urls import path

from saferoom.evaluation import views

app_name = "evaluation"
urlpatterns = [
    path("", views.cost_benefit, name="cost_benefit"),
    path("annex/", views.annex, name="annex"),
    path("cost-benefit.xlsx", views.cost_benefit_xlsx, name="cost_benefit_xlsx"),
    path("capacity/", views.plan, name="plan"),
    path("capacity.xlsx", views.plan_xlsx, name="plan_xlsx"),
]
