from django.urls import path

from apps.jobs import views

app_name = "jobs"

urlpatterns = [
    path("", views.JobList.as_view(), name="list"),
    path("diagnostic/", views.StartDiagnostic.as_view(), name="start-diagnostic"),
    path("<uuid:job_uuid>/", views.JobDetail.as_view(), name="detail"),
]
