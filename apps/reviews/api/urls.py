from django.urls import path

from apps.reviews.api import views

version = "models/<slug:slug>/versions/<int:number>/"

urlpatterns = [
    path(f"{version}review/", views.ReviewView.as_view(), name="api-review"),
    path(f"{version}decisions/", views.DecisionView.as_view(), name="api-decisions"),
    path(f"{version}comments/", views.CommentView.as_view(), name="api-comments"),
    path("reviews/waiting/", views.WaitingView.as_view(), name="api-reviews-waiting"),
    path("models/<slug:slug>/changes/", views.ModelChangesView.as_view(), name="api-model-changes"),
    path(
        "models/<slug:slug>/changes/<int:pk>/",
        views.ModelChangeView.as_view(),
        name="api-model-change",
    ),
    path(
        "models/<slug:slug>/changes/<int:pk>/withdraw/",
        views.ModelChangeWithdrawView.as_view(),
        name="api-model-change-withdraw",
    ),
]
