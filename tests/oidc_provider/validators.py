"""Claims of the test provider: e-mail (verified unless the user is in "unverified"), name,
and the helpdesk roles from the provider's groups."""
from oauth2_provider.oauth2_validators import OAuth2Validator


class ClaimsValidator(OAuth2Validator):
    oidc_claim_scope = None  # every claim, whatever the scopes

    def get_additional_claims(self, request):
        user = request.user
        groups = [g.name for g in user.groups.all()]
        return {
            "email": user.email,
            "email_verified": "unverified" not in groups,
            "given_name": user.first_name,
            "family_name": user.last_name,
            "helpdesk_roles": [g for g in groups if g != "unverified"],
        }
