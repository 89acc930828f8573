from django.urls import path

from apps.monitoring import views

app_name = "monitoring"

urlpatterns = [
    path("", views.Portfolio.as_view(), name="portfolio"),
]
