from django.urls import path

from apps.documentation import views

app_name = "documentation"

version = "models/<slug:slug>/versions/<int:number>/documentation/"

urlpatterns = [
    path(version, views.DocumentPage.as_view(), name="document"),
    path(f"{version}edit/", views.Edit.as_view(), name="edit"),
    path(f"{version}diff/", views.Diff.as_view(), name="diff"),
    path(
        f"{version}revisions/<int:revision>/export/", views.RequestExport.as_view(), name="export"
    ),
    path("documentation/exports/<int:pk>/", views.ExportStatus.as_view(), name="export-status"),
    path(
        "documentation/exports/<int:pk>/download/",
        views.ExportDownload.as_view(),
        name="export-download",
    ),
    path("documentation/template/", views.TemplateEdit.as_view(), name="template"),
    path("documentation/policies/", views.Policies.as_view(), name="policies"),
]
