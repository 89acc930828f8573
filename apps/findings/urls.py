from django.urls import path

from apps.findings import views

app_name = "findings"

urlpatterns = [
    path("", views.Register.as_view(), name="register"),
    path("<int:pk>/", views.Detail.as_view(), name="detail"),
    path("<int:pk>/remediate/", views.Remediate.as_view(), name="remediate"),
    path("<int:pk>/close/", views.Close.as_view(), name="close"),
    path("<int:pk>/reopen/", views.Reopen.as_view(), name="reopen"),
    path(
        "raise/<slug:slug>/<int:number>/",
        views.RaiseFinding.as_view(),
        name="raise",
    ),
]
