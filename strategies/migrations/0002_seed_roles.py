"""Seed the designers, publishers and operators groups."""

from django.db import migrations


def seed_roles(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    from strategies.roles import roles_sync

    # Permissions are normally created after all migrations ran (post_migrate); create them
    # now so that the groups can be granted them in this migration.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    roles_sync(apps=apps)


class Migration(migrations.Migration):
    dependencies = [
        ("strategies", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(seed_roles, migrations.RunPython.noop)]
