from django.core.management.base import BaseCommand, CommandError, CommandParser

from gamification.leaderboards.services import leaderboards_rebuild
from gamification.models import Game, Realm


class Command(BaseCommand):
    help = (
        "Recompute every leaderboard entry of the games from their awards (in their realm's "
        "time zone) and drop their cached sets. Safe while awards arrive."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--game",
            action="append",
            default=[],
            metavar="EXTERNAL_GAME_ID",
            help="A game to rebuild (repeatable; default: every game).",
        )
        parser.add_argument("--realm", help="Only the games of the realm with this slug.")

    def handle(self, *args: object, game: list[str], realm: str | None, **options: object) -> None:
        games = Game.objects.select_related("realm").order_by("realm__slug", "external_game_id")
        if realm is not None:
            if not Realm.objects.filter(slug=realm).exists():
                raise CommandError(f"No realm {realm!r}.")
            games = games.filter(realm__slug=realm)
        if game:
            missing = set(game) - set(
                games.filter(external_game_id__in=game).values_list("external_game_id", flat=True)
            )
            if missing:
                raise CommandError(f"No game {', '.join(sorted(map(repr, missing)))}.")
            games = games.filter(external_game_id__in=game)
        for row in games:
            result = leaderboards_rebuild(game=row)
            note = "" if result.cache_dropped else "; its cached sets go once Redis answers"
            self.stdout.write(
                f"{row.realm.slug}/{row.external_game_id}: {result.corrected} entries set "
                f"right, {result.pruned} removed{note}"
            )
