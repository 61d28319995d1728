from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.validators import validate_slug

from gamification.rates import rate_parse
from gamification.services import api_key_create, realm_get_or_create


class Command(BaseCommand):
    help = (
        "Create an API key for a realm (the realm is created when missing). The key is printed "
        "once, alone on the last line; only its hash is stored."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--realm", required=True, help="Slug of the realm.")
        parser.add_argument("--name", default="default", help="A name to recognise the key by.")
        parser.add_argument(
            "--rate",
            default="",
            help="Requests allowed, such as 600/minute (default: API_KEY_DEFAULT_RATE).",
        )

    def handle(self, *args: object, realm: str, name: str, rate: str, **options: object) -> None:
        try:
            validate_slug(realm)
        except ValidationError:
            raise CommandError(
                f"--realm must be a slug (letters, digits, - and _), got {realm!r}"
            ) from None
        if rate:
            try:
                rate_parse(rate)
            except ValidationError as error:
                raise CommandError(f"--rate: {error.messages[0]}") from None
        realm_obj, created = realm_get_or_create(slug=realm)
        if created:
            self.stderr.write(f"Created realm {realm_obj.slug!r}.")
        api_key, raw_key = api_key_create(realm=realm_obj, name=name, rate=rate)
        self.stderr.write(
            f"API key {api_key.name!r} ({api_key.prefix}) for realm {realm_obj.slug!r}:"
        )
        self.stdout.write(raw_key)
