from django.urls import path

from apps.registry import views

app_name = "registry"

urlpatterns = [
    path("", views.model_list, name="model-list"),
    path("new/", views.model_register, name="model-register"),
    path("<slug:slug>/", views.model_detail, name="model-detail"),
    path("<slug:slug>/edit/", views.model_edit, name="model-edit"),
    path("<slug:slug>/history/", views.model_history, name="model-history"),
    path("<slug:slug>/share/", views.share, name="model-share"),
    path("<slug:slug>/unshare/", views.unshare, name="model-unshare"),
    path("<slug:slug>/versions/new/", views.version_upload, name="version-upload"),
    path("<slug:slug>/versions/<int:number>/", views.version_detail, name="version-detail"),
    path(
        "<slug:slug>/versions/<int:number>/files/<str:role>/",
        views.file_download_view,
        name="version-file",
    ),
]
