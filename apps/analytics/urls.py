from django.urls import path

from apps.analytics import views

app_name = "analytics"

urlpatterns = [
    path("analytics/", views.ChangeAnalyticsPage.as_view(), name="changes"),
    path("delivery/", views.DeliveryPage.as_view(), name="delivery"),
]
