from __future__ import annotations

from django.core.exceptions import ValidationError
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import services
from accounts.access import capabilities_of, profile_of, scope_of
from accounts.models import OperatorProfile
from accounts.selectors import user_teams


class TeamRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class MeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    name = serializers.CharField()
    role = serializers.CharField(allow_null=True)
    scope = serializers.CharField(allow_null=True)
    capabilities = serializers.ListField(child=serializers.CharField())
    teams = TeamRefSerializer(many=True)
    language = serializers.CharField()
    time_zone = serializers.CharField()
    presence = serializers.CharField(allow_null=True)
    load = serializers.IntegerField(allow_null=True)
    capacity = serializers.IntegerField(allow_null=True)
    # The alert preferences as the operator set them; `reduced_distraction` silences all three.
    alert_sound = serializers.BooleanField()
    alert_desktop = serializers.BooleanField()
    alert_title_count = serializers.BooleanField()
    reduced_distraction = serializers.BooleanField()
    keyboard_shortcuts = serializers.BooleanField()


_ALERT_DEFAULTS = {
    "alert_sound": False,
    "alert_desktop": False,
    "alert_title_count": False,
    "reduced_distraction": False,
    "keyboard_shortcuts": True,
}


class MeView(APIView):
    """Who the caller is and what their role lets them do."""

    @extend_schema(responses=MeSerializer)
    def get(self, request: Request) -> Response:
        user = request.user
        profile = profile_of(user)
        data = {
            "id": user.pk,
            "username": user.username,
            "name": str(user),
            "role": profile.role.slug if profile else None,
            "scope": scope_of(user),
            "capabilities": sorted(c.value for c in capabilities_of(user)),
            "teams": list(user_teams(user=user).values("id", "name")),
            "language": (profile.language if profile else "") or "",
            "time_zone": profile.time_zone if profile else "UTC",
            "presence": profile.presence if profile else None,
            "load": profile.load if profile else None,
            "capacity": profile.capacity if profile else None,
            **{
                name: getattr(profile, name) if profile else default
                for name, default in _ALERT_DEFAULTS.items()
            },
        }
        return Response(MeSerializer(data).data)


class PresenceSerializer(serializers.Serializer):
    presence = serializers.ChoiceField(choices=OperatorProfile.Presence.choices)


class PresenceView(APIView):
    """Set the caller's presence: online (takes conversations), away or offline."""

    @extend_schema(request=PresenceSerializer, responses=PresenceSerializer)
    def post(self, request: Request) -> Response:
        serializer = PresenceSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            profile = services.presence_set(
                user=request.user, presence=serializer.validated_data["presence"]
            )
        except ValidationError as error:
            return Response({"detail": " ".join(error.messages)}, status=status.HTTP_409_CONFLICT)
        return Response({"presence": profile.presence})
