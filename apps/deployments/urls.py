from django.urls import path

from apps.deployments import views

app_name = "deployments"

urlpatterns = [
    path("models/<slug:slug>/versions/<int:number>/deploy/", views.deploy, name="deploy"),
    path("models/<slug:slug>/versions/<int:number>/retire/", views.retire, name="retire"),
    path(
        "models/<slug:slug>/environments/<slug:environment>/rollback/",
        views.rollback,
        name="rollback",
    ),
    path(
        "models/<slug:slug>/environments/<slug:environment>/undeploy/",
        views.undeploy,
        name="undeploy",
    ),
    path("models/<slug:slug>/serving-keys/", views.keys, name="keys"),
    path("deployments/", views.history, name="history"),
    path("serve/<slug:model>/<slug:environment>/<str:action>", views.serve, name="serve"),
]
