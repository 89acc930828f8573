from django.urls import path

from apps.reviews import views

app_name = "reviews"

version = "models/<slug:slug>/versions/<int:number>/"

urlpatterns = [
    path(f"{version}review/", views.RequestReview.as_view(), name="request"),
    path(f"{version}decide/", views.Decide.as_view(), name="decide"),
    path(f"{version}comments/", views.AddComment.as_view(), name="comment"),
    path("models/<slug:slug>/changes/", views.ProposeChange.as_view(), name="propose-change"),
    path(
        "models/<slug:slug>/changes/<int:pk>/decide/",
        views.DecideChange.as_view(),
        name="decide-change",
    ),
    path(
        "models/<slug:slug>/changes/<int:pk>/withdraw/",
        views.WithdrawChange.as_view(),
        name="withdraw-change",
    ),
    path("reviews/", views.Queue.as_view(), name="queue"),
    path("reviews/exceptions/", views.Exceptions.as_view(), name="exceptions"),
    path("reviews/lead-times/", views.LeadTimes.as_view(), name="lead-times"),
    path("reviews/policies/", views.PolicyList.as_view(), name="policies"),
    path("reviews/policies/<str:risk_tier>/", views.PolicyEdit.as_view(), name="policy-edit"),
]
