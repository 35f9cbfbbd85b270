"""Every change to users, roles, teams and profiles.

Each service runs in one transaction. Changes to access (a role, its capabilities, a user's
role or teams, a user's activation) write an `AccessAuditEntry` with the state before and after
(`audit`). One module per thing changed: `roles`, `users` (with their profiles, the sign-in
lockout and API tokens), `teams`, `presence` (and capacity), `preferences`; `common` holds the
signals to other apps and to open sockets. The names stay importable from here.
"""

from accounts.services.audit import audited_update
from accounts.services.common import operators_available
from accounts.services.preferences import PREFERENCE_FIELDS, profile_update_preferences
from accounts.services.presence import (
    HEARTBEAT_WRITE_EVERY,
    capacity_effective,
    capacity_refresh,
    operator_busy_set,
    presence_expire,
    presence_heartbeat,
    presence_set,
)
from accounts.services.roles import (
    role_archive,
    role_delete,
    role_deletion_blocker,
    role_restore,
    role_save,
)
from accounts.services.teams import team_save
from accounts.services.users import (
    api_tokens_revoke,
    operator_profile_save,
    profile_role_check,
    sign_in_lockout_record,
    user_create,
    user_save,
)

__all__ = [
    "HEARTBEAT_WRITE_EVERY",
    "PREFERENCE_FIELDS",
    "api_tokens_revoke",
    "audited_update",
    "capacity_effective",
    "capacity_refresh",
    "operator_busy_set",
    "operator_profile_save",
    "operators_available",
    "presence_expire",
    "presence_heartbeat",
    "presence_set",
    "profile_role_check",
    "profile_update_preferences",
    "role_archive",
    "role_delete",
    "role_deletion_blocker",
    "role_restore",
    "role_save",
    "sign_in_lockout_record",
    "team_save",
    "user_create",
    "user_save",
]
