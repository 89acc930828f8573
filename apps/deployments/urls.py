from django.urls import path

from apps.deployments import views

app_name = "deployments"

urlpatterns = [
    path("models/<slug:slug>/versions/<int:number>/deploy/", views.Deploy.as_view(), name="deploy"),
    path("models/<slug:slug>/versions/<int:number>/retire/", views.Retire.as_view(), name="retire"),
    path(
        "models/<slug:slug>/environments/<slug:environment>/rollback/",
        views.Rollback.as_view(),
        name="rollback",
    ),
    path(
        "models/<slug:slug>/environments/<slug:environment>/undeploy/",
        views.Undeploy.as_view(),
        name="undeploy",
    ),
    path(
        "models/<slug:slug>/environments/<slug:environment>/challenger/traffic/",
        views.ChallengerTraffic.as_view(),
        name="challenger-traffic",
    ),
    path(
        "models/<slug:slug>/environments/<slug:environment>/challenger/promote/",
        views.ChallengerPromote.as_view(),
        name="challenger-promote",
    ),
    path(
        "models/<slug:slug>/environments/<slug:environment>/challenger/stop/",
        views.ChallengerStop.as_view(),
        name="challenger-stop",
    ),
    path("models/<slug:slug>/serving-keys/", views.Keys.as_view(), name="keys"),
    path("deployments/", views.History.as_view(), name="history"),
    path(
        "deployments/challengers/start/",
        views.StartChallenger.as_view(),
        name="challenger-start",
    ),
    path("serve/<slug:model>/<slug:environment>/<str:action>", views.serve, name="serve"),
]
