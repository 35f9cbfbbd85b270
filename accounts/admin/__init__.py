"""The super-admin's role and user editor. Every save goes through `accounts.services`.

Django's autodiscovery imports this package; importing it registers every admin below. The
site and the capability permissions they use are in `accounts.admin_base`.

- `audit`: the audit trail shown on a role or user, and the audit log.
- `roles`: roles (replacing Django's groups), archive, restore, delete.
- `users`: users with their operator profile inline.
- `teams`: teams and skills.
- `signin`: API tokens and django-axes' sign-in lockouts.
"""

from accounts.admin.audit import AccessAuditEntryAdmin
from accounts.admin.roles import RoleAdmin
from accounts.admin.signin import (
    ApiTokenAdmin,
    LockoutAttemptAdmin,
    LockoutFailureLogAdmin,
    SignInLogAdmin,
)
from accounts.admin.teams import SkillAdmin, TeamAdmin
from accounts.admin.users import OperatorProfileForm, OperatorProfileInline, UserAdmin

__all__ = [
    "AccessAuditEntryAdmin",
    "ApiTokenAdmin",
    "LockoutAttemptAdmin",
    "LockoutFailureLogAdmin",
    "OperatorProfileForm",
    "OperatorProfileInline",
    "RoleAdmin",
    "SignInLogAdmin",
    "SkillAdmin",
    "TeamAdmin",
    "UserAdmin",
]
