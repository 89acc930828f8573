from django.urls import path

from apps.accounts import views

app_name = "accounts"

urlpatterns = [
    path("tokens/", views.Tokens.as_view(), name="tokens"),
    path("tokens/<int:token_id>/revoke/", views.RevokeToken.as_view(), name="revoke-token"),
]
