import os

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from gamification.models import ApiKey, Game, Task
from gamification.services import api_key_create, game_create, realm_get_or_create, task_create
from strategies.demo import demo_strategies_ensure

DEMO_REALM = "demo"
DEMO_GAME = "demo-game"
DEMO_KEY_NAME = "demo"
KEY_FILE_NAME = ".demo-api-key"


class Command(BaseCommand):
    help = "Create (once) the demo realm, an admin user, an API key, a game and its tasks."

    def add_arguments(self, parser):
        parser.add_argument("--admin-username", default="admin")
        parser.add_argument(
            "--admin-password",
            default=os.environ.get("DEMO_ADMIN_PASSWORD", "admin"),
            help="Password of the demo superuser (only used when it is created).",
        )
        parser.add_argument(
            "--key-file",
            default=KEY_FILE_NAME,
            help="Where the demo API key is kept so that later runs can print it again.",
        )

    @transaction.atomic
    def handle(self, *args, admin_username, admin_password, key_file, **options):
        realm, _ = realm_get_or_create(slug=DEMO_REALM, name="Demo realm")
        User = get_user_model()
        admin = User.objects.filter(username=admin_username).first()
        if admin is None:
            admin = User.objects.create_superuser(admin_username, "", admin_password)
        if admin.check_password(admin_password):
            admin_note = f"{admin_username} / {admin_password}"
        else:
            admin_note = f"{admin_username} (its password was changed since the first run)"

        raw_key = _read_key(key_file)
        if raw_key is None or not _key_is_live(raw_key):
            _, raw_key = api_key_create(realm=realm, name=DEMO_KEY_NAME)
            with open(key_file, "w") as handle:
                handle.write(raw_key + "\n")
            os.chmod(key_file, 0o600)

        game = Game.objects.filter(realm=realm, external_game_id=DEMO_GAME).first()
        if game is None:
            game = game_create(
                realm=realm, api_key=None, external_game_id=DEMO_GAME, platform="web"
            )
        speed, weekend = demo_strategies_ensure(realm=realm)
        for external_task_id, strategy_id in (
            ("daily-run", None),
            ("streak", "constant_effort"),
            ("sprint", speed.strategy_id),
            ("weekend-run", weekend.strategy_id),
        ):
            if not Task.objects.filter(game=game, external_task_id=external_task_id).exists():
                task_create(
                    game=game,
                    api_key=None,
                    external_task_id=external_task_id,
                    strategy_id=strategy_id,
                )

        self.stdout.write("Demo data ready.")
        self.stdout.write(f"  Admin login : {admin_note}")
        self.stdout.write(f"  Realm       : {realm.slug}")
        self.stdout.write(
            f"  Game        : {DEMO_GAME} (tasks daily-run: default, streak: constant_effort)"
        )
        self.stdout.write(
            f"  Custom      : sprint: {speed.name} (DSL_FULL), "
            f"weekend-run: {weekend.name} (DSL_EXTEND of default)"
        )
        self.stdout.write(f"  API key     : {raw_key}")


def _read_key(path: str) -> str | None:
    try:
        with open(path) as handle:
            return handle.read().strip() or None
    except FileNotFoundError:
        return None


def _key_is_live(raw_key: str) -> bool:
    prefix = raw_key.partition(".")[0]
    return ApiKey.objects.filter(
        prefix=prefix, revoked_at__isnull=True, realm__slug=DEMO_REALM
    ).exists()
