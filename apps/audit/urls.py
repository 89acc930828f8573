from django.urls import path

from apps.audit import views

app_name = "audit"

urlpatterns = [
    path("", views.EventList.as_view(), name="list"),
    path("export.csv", views.ExportCsv.as_view(), name="export"),
    path("verify/", views.Verify.as_view(), name="verify"),
]
