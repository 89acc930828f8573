from django.urls import path

from apps.documentation.api import views

version = "models/<slug:slug>/versions/<int:number>/documentation/"

urlpatterns = [
    path(version, views.DocumentationView.as_view(), name="api-documentation"),
    path(f"{version}exports/", views.ExportsView.as_view(), name="api-documentation-exports"),
    path(
        "documentation/exports/<int:pk>/",
        views.ExportView.as_view(),
        name="api-documentation-export",
    ),
    path(
        "documentation/exports/<int:pk>/download/",
        views.ExportDownloadView.as_view(),
        name="api-documentation-export-download",
    ),
]
