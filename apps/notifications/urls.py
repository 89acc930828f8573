from django.urls import path

from apps.notifications import views

app_name = "notifications"

urlpatterns = [
    path("", views.Inbox.as_view(), name="inbox"),
    path("read-all/", views.ReadAll.as_view(), name="read-all"),
    path("<int:notification_id>/read/", views.Read.as_view(), name="read"),
    path("settings/", views.Preferences.as_view(), name="preferences"),
]
