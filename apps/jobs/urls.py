from django.urls import path

from apps.jobs import views

app_name = "jobs"

urlpatterns = [
    path("", views.job_list, name="list"),
    path("diagnostic/", views.start_diagnostic, name="start-diagnostic"),
    path("<uuid:job_uuid>/", views.job_detail, name="detail"),
]
