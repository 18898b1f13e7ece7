"""API tokens move from DRF's authtoken (the token's text in the database, no expiry) to
django-rest-knox (a SHA-512 digest of the token, an expiry).

Each existing token is rehashed into a knox token, so clients keep working, and it expires
API_TOKEN_TTL_HOURS after this migration like any new one; then authtoken's table, with the
tokens' text, is dropped, and its permissions and migration records go with it (the app is no
longer installed). Not reversible into plain text: going back leaves no token, issue new ones.
"""

import hashlib

from django.conf import settings
from django.db import migrations
from django.db.migrations.recorder import MigrationRecorder
from django.utils import timezone

from memorycrm.lib.roles import grant, revoke

GRANTS = {"Admin": ["knox.view_authtoken", "knox.add_authtoken", "knox.delete_authtoken"]}
PLAIN_TABLE = "authtoken_token"
KEY_LENGTH = 15  # knox.settings.CONSTANTS.TOKEN_KEY_LENGTH: the prefix knox looks a token up by


def digest(token: str) -> str:
    """knox.crypto.hash_token with knox's default SECURE_HASH_ALGORITHM (SHA-512)."""
    return hashlib.sha512(token.encode()).hexdigest()


def rehash_plain_tokens(apps, schema_editor) -> int:
    """Move every authtoken token into knox, hashed, then drop the plain table. Returns how
    many moved (none on a new database, where authtoken never ran)."""
    connection = schema_editor.connection
    if PLAIN_TABLE not in connection.introspection.table_names():
        return 0
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT key, user_id FROM {PLAIN_TABLE}")  # noqa: S608 (a constant)
        rows = cursor.fetchall()
        AuthToken = apps.get_model("knox", "AuthToken")
        expiry = timezone.now() + settings.REST_KNOX["TOKEN_TTL"]
        AuthToken.objects.using(connection.alias).bulk_create(
            AuthToken(digest=digest(key), token_key=key[:KEY_LENGTH], user_id=user, expiry=expiry)
            for key, user in rows
        )
        cursor.execute(f"DROP TABLE {PLAIN_TABLE}")
    ContentType = apps.get_model("contenttypes", "ContentType")
    ContentType.objects.using(connection.alias).filter(app_label="authtoken").delete()
    MigrationRecorder(connection).migration_qs.filter(app="authtoken").delete()
    return len(rows)


class Migration(migrations.Migration):
    dependencies = [
        ("memorycrm", "0001_initial"),
        ("knox", "0009_extend_authtoken_field"),
        ("customers", "0002_stages_and_roles"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.RunPython(rehash_plain_tokens, migrations.RunPython.noop),
        migrations.RunPython(
            lambda apps, se: grant(apps, se, GRANTS), lambda apps, se: revoke(apps, se, GRANTS)
        ),
    ]
