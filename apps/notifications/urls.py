from django.urls import path

from apps.notifications import views

app_name = "notifications"

urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("read-all/", views.read_all, name="read-all"),
    path("<int:notification_id>/read/", views.read, name="read"),
    path("settings/", views.preferences, name="preferences"),
]
