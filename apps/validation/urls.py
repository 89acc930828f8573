from django.urls import path

from apps.validation import views

app_name = "validation"

version = "models/<slug:slug>/versions/<int:number>/validation/"

urlpatterns = [
    path(f"{version}status/", views.Status.as_view(), name="status"),
    path(f"{version}report.json", views.ReportJson.as_view(), name="report-json"),
    path(f"{version}report.html", views.ReportHtml.as_view(), name="report-html"),
    path(f"{version}rerun/", views.Rerun.as_view(), name="rerun"),
    path("validation/policies/", views.PolicyList.as_view(), name="policies"),
    path("validation/policies/<str:scope>/", views.PolicyEdit.as_view(), name="policy-edit"),
]
