from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.validators import validate_slug

from gamification.errors import DomainError
from gamification.models import RealmRole
from gamification.services import realm_member_add


class Command(BaseCommand):
    help = (
        "Give a staff user a role in a realm. The user and the realm are created when missing; "
        "a second role for the same realm replaces the first. Running it again changes nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--realm", required=True, help="Slug of the realm.")
        parser.add_argument("--role", required=True, choices=RealmRole.values)
        parser.add_argument("--password", help="Set this password (also on an existing user).")

    def handle(
        self,
        *args: object,
        username: str,
        realm: str,
        role: str,
        password: str | None,
        **options: object,
    ) -> None:
        try:
            validate_slug(realm)
        except ValidationError:
            raise CommandError(
                f"--realm must be a slug (letters, digits, - and _), got {realm!r}"
            ) from None
        if not username.strip():
            raise CommandError("USERNAME must not be empty.")
        try:
            change = realm_member_add(
                username=username, realm_slug=realm, role=role, password=password
            )
        except DomainError as error:
            raise CommandError(error.detail) from None
        if change.realm_created:
            self.stdout.write(f"Created realm {realm!r}.")
        if change.user_created:
            self.stdout.write(f"Created staff user {username!r}.")
        if change.previous_role is None:
            self.stdout.write(f"{username} is now {role} in {realm}.")
        elif change.previous_role != role:
            self.stdout.write(f"{username} is now {role} in {realm} (was {change.previous_role}).")
        else:
            self.stdout.write(f"{username} already is {role} in {realm}.")
