from django.urls import path

from apps.registry.api.views import ModelVersionViewSet, RegisteredModelViewSet

models = RegisteredModelViewSet.as_view
versions = ModelVersionViewSet.as_view

urlpatterns = [
    path("models/", models({"get": "list", "post": "create"}), name="api-model-list"),
    path(
        "models/<slug:slug>/",
        models({"get": "retrieve", "patch": "partial_update"}),
        name="api-model-detail",
    ),
    path(
        "models/<slug:slug>/shares/",
        # The access list is short and answered whole: not paged like the inventory.
        models({"get": "shares", "post": "share"}, pagination_class=None),
        name="api-model-shares",
    ),
    path(
        "models/<slug:slug>/shares/<str:grantee>/",
        models({"delete": "unshare"}),
        name="api-model-share",
    ),
    path(
        "models/<slug:slug>/versions/",
        versions({"get": "list", "post": "create"}),
        name="api-version-list",
    ),
    path(
        "models/<slug:slug>/versions/<int:number>/",
        versions({"get": "retrieve"}),
        name="api-version-detail",
    ),
    path(
        "models/<slug:slug>/versions/<int:number>/files/<str:role>/",
        versions({"get": "download"}),
        name="api-version-file",
    ),
]
