from django.urls import path

from apps.integrations import views

app_name = "integrations"

urlpatterns = [
    path("models/<slug:slug>/mlflow/link/", views.Link.as_view(), name="link"),
    path("models/<slug:slug>/mlflow/unlink/", views.Unlink.as_view(), name="unlink"),
    path("models/<slug:slug>/mlflow/versions/", views.Picker.as_view(), name="picker"),
    path("models/<slug:slug>/mlflow/import/", views.Import.as_view(), name="import"),
    path("models/<slug:slug>/mlflow/automatic/", views.SetAutomatic.as_view(), name="automatic"),
    path("mlflow/<int:pk>/webhook/", views.Webhook.as_view(), name="webhook"),
]
