"""Sign-up, log-in (throttled), log-out and password reset."""
from django.contrib.auth import views as auth_views
from django.urls import path

from . import views, views_security

urlpatterns = [
    path("login/", views.ThrottledLoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("signup/", views.signup, name="signup"),
    path("2fa/setup/", views_security.two_factor_setup, name="two_factor_setup"),
    path("2fa/verify/", views_security.two_factor_verify, name="two_factor_verify"),
    path("2fa/recovery-codes/", views_security.recovery_codes, name="two_factor_recovery"),
    path("reauth/", views_security.reauthenticate, name="reauthenticate"),
    path("password/reset/", auth_views.PasswordResetView.as_view(), name="password_reset"),
    path("password/reset/done/", auth_views.PasswordResetDoneView.as_view(),
         name="password_reset_done"),
    path("password/reset/<uidb64>/<token>/", auth_views.PasswordResetConfirmView.as_view(),
         name="password_reset_confirm"),
    path("password/reset/complete/", auth_views.PasswordResetCompleteView.as_view(),
         name="password_reset_complete"),
    path("password/change/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path("password/change/done/", auth_views.PasswordChangeDoneView.as_view(),
         name="password_change_done"),
]
