from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.utils.functional import lazy
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from gamification import api as core_api
from gamification.achievements import api as achievements_api
from gamification.health import healthz, metrics, readyz
from gamification.player_data import api as player_data_api
from gamification.wallet import api as wallet_api

G = "api/v1/games/<str:external_game_id>"
T = f"{G}/tasks/<str:external_task_id>"
W = "api/v1/players/<str:external_user_id>/wallet"

api_v1 = [
    path("api/v1/games", core_api.GameListCreateView.as_view(), name="game-list"),
    path(G, core_api.GameDetailView.as_view(), name="game-detail"),
    path(f"{G}/tasks", core_api.TaskListCreateView.as_view(), name="task-list"),
    path(f"{G}/tasks/bulk", core_api.TaskBulkCreateView.as_view(), name="task-bulk"),
    path(T, core_api.TaskDetailView.as_view(), name="task-detail"),
    path(f"{G}/points", core_api.GamePointsView.as_view(), name="game-points"),
    path(f"{G}/leaderboard", core_api.LeaderboardView.as_view(), name="game-leaderboard"),
    path(
        f"{G}/players/<str:external_user_id>/points",
        core_api.PlayerPointsView.as_view(),
        name="player-points",
    ),
    path(f"{W}", wallet_api.WalletView.as_view(), name="wallet"),
    path(f"{W}/ledger", wallet_api.LedgerView.as_view(), name="wallet-ledger"),
    path(f"{W}/convert", wallet_api.ConversionView.as_view(), name="wallet-convert"),
    path(f"{G}/levels", achievements_api.GameLevelsView.as_view(), name="game-levels"),
    path(f"{G}/badges", achievements_api.BadgeListCreateView.as_view(), name="game-badges"),
    path(
        f"{G}/players/<str:external_user_id>",
        achievements_api.PlayerProfileView.as_view(),
        name="player-profile",
    ),
    path(
        "api/v1/players/<str:external_user_id>/export",
        player_data_api.PlayerExportView.as_view(),
        name="player-export",
    ),
    path(
        "api/v1/players/<str:external_user_id>",
        player_data_api.PlayerDetailView.as_view(),
        name="player-detail",
    ),
    path("api/v1/webhooks", core_api.WebhookListCreateView.as_view(), name="webhook-list"),
    path(
        "api/v1/webhooks/<str:webhook_id>",
        core_api.WebhookDetailView.as_view(),
        name="webhook-detail",
    ),
    path(
        "api/v1/webhooks/<str:webhook_id>/test",
        core_api.WebhookTestView.as_view(),
        name="webhook-test",
    ),
]

urlpatterns = [
    *api_v1,
    path("", include("scoring.urls")),
    path("", include("observability.urls")),
    path("", include("strategies.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("metrics", metrics, name="prometheus-django-metrics"),
    path(
        "favicon.ico",
        RedirectView.as_view(url=lazy(static, str)("gamification/favicon.ico"), permanent=True),
    ),
    path("admin/", admin.site.urls),
]

handler400 = "gamification.health.bad_request"
handler403 = "gamification.health.permission_denied"
handler404 = "gamification.health.not_found"
handler500 = "gamification.health.server_error"
