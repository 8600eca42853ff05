"""Create the provider's database, people and the helpdesk's client (run in a subprocess)."""
import json
import os
import sys

import django


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.oidc_provider.settings")
    django.setup()
    from django.contrib.auth.models import Group, User
    from django.core.management import call_command
    from oauth2_provider.models import Application

    spec = json.loads(sys.argv[1])
    call_command("migrate", verbosity=0)
    for person in spec["people"]:
        user = User.objects.create_user(person["username"], person["email"], spec["password"],
                                        first_name=person.get("first_name", ""))
        for name in person.get("groups", []):
            user.groups.add(Group.objects.get_or_create(name=name)[0])
    Application.objects.create(
        name="helpdesk", client_id=spec["client_id"], client_secret=spec["client_secret"],
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        redirect_uris=spec["redirect_uri"], algorithm=Application.RS256_ALGORITHM,
        skip_authorization=True)


if __name__ == "__main__":
    main()
