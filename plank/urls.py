"""The URL map. Paths here are stable: other tools and the tests rely on them."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from plank import icons, notification_views, people, setup, task_views, views
from plank.login import ThrottledLoginView

urlpatterns = [
    path("", include("media.urls")),
    path("browse/", include("browse.urls")),
    path("torrents/", include("torrents.urls")),
    path("downloads/", include("torrents.urls_downloads")),
    path("settings/indexers/", include("torrents.urls_settings")),
    path("system/", views.system, name="system"),
    path("system/cache/clear", views.cache_clear, name="cache-clear"),
    path("tasks/", task_views.tasks_page, name="tasks"),
    path("tasks/<str:name>/run", task_views.run_now, name="task-run"),
    path("tasks/<str:name>/cancel", task_views.cancel, name="task-cancel"),
    path("tasks/<str:name>/interval", task_views.interval, name="task-interval"),
    path("settings/", views.preferences, name="preferences"),
    path("settings/library/", include("media.folder_urls")),
    path("setup/", views.first_run, name="setup"),
    # the setup after the first run (issue 12): its checklist, and each step
    path("setup/checklist/", setup.checklist, name="setup-checklist"),
    path("setup/<slug:slug>/", setup.step, name="setup-step"),
    path("favicon.ico", icons.favicon, name="favicon"),
    path("healthz", views.healthz, name="healthz"),
    path("accounts/login/", ThrottledLoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    # people (issue 11): each person's own password, the People settings page, invitations
    path("accounts/password/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path(
        "accounts/password/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    path("settings/people/", people.people_page, name="people"),
    path("settings/people/invite", people.invite, name="people-invite"),
    path("settings/people/invites/<int:pk>/withdraw", people.revoke, name="people-revoke"),
    path("settings/people/<int:pk>/role", people.change_role, name="people-role"),
    path("settings/people/<int:pk>/active", people.change_active, name="people-active"),
    path("settings/people/approval", people.approval, name="people-approval"),
    path("invite/<str:token>/", people.accept, name="invite-accept"),
    # notifications (issue 12): a person's own list, and "Mark all read"
    path("notifications/", notification_views.notifications_page, name="notifications"),
    path("notifications/read", notification_views.read_all, name="notifications-read"),
    path("admin/", admin.site.urls),
]
