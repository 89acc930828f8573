from django.urls import path

from apps.registry import views

app_name = "registry"

urlpatterns = [
    path("", views.ModelList.as_view(), name="model-list"),
    path("new/", views.ModelRegister.as_view(), name="model-register"),
    path("<slug:slug>/", views.ModelDetail.as_view(), name="model-detail"),
    path("<slug:slug>/edit/", views.ModelEdit.as_view(), name="model-edit"),
    path("<slug:slug>/history/", views.ModelHistory.as_view(), name="model-history"),
    path(
        "<slug:slug>/history/export.csv",
        views.ModelHistory.as_view(export=True),
        name="model-history-export",
    ),
    path("<slug:slug>/share/", views.Share.as_view(), name="model-share"),
    path("<slug:slug>/unshare/", views.Unshare.as_view(), name="model-unshare"),
    path("<slug:slug>/versions/new/", views.VersionUpload.as_view(), name="version-upload"),
    path(
        "<slug:slug>/versions/<int:number>/", views.VersionDetail.as_view(), name="version-detail"
    ),
    path(
        "<slug:slug>/versions/<int:number>/files/<str:role>/",
        views.FileDownload.as_view(),
        name="version-file",
    ),
]
