from django.urls import path

from apps.recertification import views

app_name = "recertification"

urlpatterns = [
    path("reviews/calendar/", views.Calendar.as_view(), name="calendar"),
    path("reviews/periodic/<int:pk>/", views.ReviewPage.as_view(), name="review"),
    path("reviews/cadences/", views.Cadences.as_view(), name="cadences"),
    path("models/<slug:slug>/periodic-review/", views.RequestReview.as_view(), name="request"),
]
