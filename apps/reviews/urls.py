from django.urls import path

from apps.reviews import views

app_name = "reviews"

version = "models/<slug:slug>/versions/<int:number>/"

urlpatterns = [
    path(f"{version}review/", views.request_review, name="request"),
    path(f"{version}decide/", views.decide, name="decide"),
    path(f"{version}comments/", views.comment, name="comment"),
    path("models/<slug:slug>/changes/", views.propose_change, name="propose-change"),
    path("models/<slug:slug>/changes/<int:pk>/decide/", views.decide_change, name="decide-change"),
    path(
        "models/<slug:slug>/changes/<int:pk>/withdraw/",
        views.withdraw_change,
        name="withdraw-change",
    ),
    path("reviews/", views.queue, name="queue"),
    path("reviews/exceptions/", views.exceptions, name="exceptions"),
    path("reviews/lead-times/", views.lead_time_dashboard, name="lead-times"),
    path("reviews/policies/", views.policy_list, name="policies"),
    path("reviews/policies/<str:risk_tier>/", views.policy_edit, name="policy-edit"),
]
