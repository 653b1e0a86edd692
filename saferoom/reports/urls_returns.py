"""Returns in the shapes funders use (Health Canada, Glasgow Thistle, North Rhine-Westphalia):
each as a page, a CSV and an XLSX, named after the return (``returns:thistle_xlsx``)."""

from django.urls import URLPattern, path

from saferoom.reports import views_returns as views

app_name = "returns"

# (URL name, address) of each return; the name is the return's slug in returns.SHAPES.
_RETURNS = (("health_canada", "health-canada"), ("thistle", "thistle"), ("nrw", "nrw"))

urlpatterns: list[URLPattern] = [path("", views.index, name="index")]
for _slug, _address in _RETURNS:
    urlpatterns += [
        path(f"{_address}/", views.show, {"shape": _slug}, name=_slug),
        path(f"{_address}.csv", views.download_csv, {"shape": _slug}, name=f"{_slug}_csv"),
        path(f"{_address}.xlsx", views.download_xlsx, {"shape": _slug}, name=f"{_slug}_xlsx"),
    ]
