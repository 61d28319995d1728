from django.core.management.base import BaseCommand, CommandParser

from gamification.services import realm_member_remove


class Command(BaseCommand):
    help = "Take a user's role in a realm away. The user and the realm stay."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--realm", required=True, help="Slug of the realm.")

    def handle(self, *args: object, username: str, realm: str, **options: object) -> None:
        if realm_member_remove(username=username, realm_slug=realm):
            self.stdout.write(f"{username} no longer has a role in {realm}.")
        else:
            self.stdout.write(f"{username} had no role in {realm}; nothing changed.")
