from django.urls import path

from apps.validation import views

app_name = "validation"

version = "models/<slug:slug>/versions/<int:number>/validation/"

urlpatterns = [
    path(f"{version}status/", views.status, name="status"),
    path(f"{version}report.json", views.report_json, name="report-json"),
    path(f"{version}report.html", views.report_html, name="report-html"),
    path(f"{version}rerun/", views.rerun, name="rerun"),
    path("validation/policies/", views.policy_list, name="policies"),
    path("validation/policies/<str:scope>/", views.policy_edit, name="policy-edit"),
]
