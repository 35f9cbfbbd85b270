"""Files customers send, from any channel, kept through Django's default storage.

Every file passes the same limits (`ATTACHMENT_MAX_BYTES`, `ATTACHMENT_CONTENT_TYPES`); what
is stored on the message is a small dict: name, url, size, content_type, path.

The declared type is not trusted: images and PDFs must start with their format's signature
(a mismatch is refused), and the stored file's extension comes from the checked type, never
from the sender's name — `evil.html` declared as text/plain is stored as `….txt`. Files are
only ever served through `chats.channels.downloads.attachment_download`, which checks access.
"""

from __future__ import annotations

import mimetypes
import secrets
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone
from django.utils.text import get_valid_filename
from django.utils.translation import gettext as _

# The extension a stored file gets, from its checked type.
EXTENSIONS = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/gif": ".gif",
    "image/webp": ".webp",
    "application/pdf": ".pdf",
    "audio/ogg": ".ogg",
    "audio/mpeg": ".mp3",
    "video/mp4": ".mp4",
    "video/webm": ".webm",
    "text/plain": ".txt",
    "application/x-tgsticker": ".tgs",
}
# Types whose leading bytes are checked: a file that claims to be one must start like one.
SIGNATURES: dict[str, tuple[bytes, ...]] = {
    "image/jpeg": (b"\xff\xd8",),
    "image/png": (b"\x89PNG",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "application/pdf": (b"%PDF-",),
}


class AttachmentRefused(ValidationError):
    """Too large or of a type we do not take; the message says which, for the sender."""


def max_bytes() -> int:
    return int(settings.ATTACHMENT_MAX_BYTES)


def guess_type(name: str, declared: str = "") -> str:
    declared = (declared or "").split(";")[0].strip().lower()
    return declared or (mimetypes.guess_type(name)[0] or "application/octet-stream")


def attachment_check(*, name: str, size: int | None, content_type: str) -> None:
    """Raise AttachmentRefused when a file may not be taken, before anything is stored."""
    if size is not None and size > max_bytes():
        raise AttachmentRefused(
            _("The file “%(name)s” is too large (%(size)s MB, at most %(max)s MB).")
            % {
                "name": name,
                "size": f"{size / 1_048_576:.1f}",
                "max": f"{max_bytes() / 1_048_576:.0f}",
            }
        )
    if content_type not in settings.ATTACHMENT_CONTENT_TYPES:
        raise AttachmentRefused(
            _("Files of type %(type)s are not accepted (“%(name)s”).")
            % {"type": content_type, "name": name}
        )


def content_matches(content_type: str, content: bytes) -> bool:
    """Whether the leading bytes fit the declared type (for the types we can tell)."""
    if content_type == "image/webp":
        return content[:4] == b"RIFF" and content[8:12] == b"WEBP"
    signatures = SIGNATURES.get(content_type)
    if signatures is None:
        return True
    return any(content.startswith(s) for s in signatures)


def stored_name(name: str, content_type: str) -> str:
    """A safe file name whose extension is the one of the checked type."""
    stem = get_valid_filename(name or "file").rsplit(".", 1)[0][:100] or "file"
    extension = EXTENSIONS.get(content_type) or mimetypes.guess_extension(content_type) or ".bin"
    return stem + extension


def attachment_store(
    *, name: str, content: bytes, content_type: str = "", folder: str = "attachments"
) -> dict[str, Any]:
    """Check and save one file; returns the dict a message keeps in `attachments`."""
    name = (name or "file").replace("/", "_").replace("\\", "_").strip()[:120] or "file"
    content_type = guess_type(name, content_type)
    attachment_check(name=name, size=len(content), content_type=content_type)
    if not content_matches(content_type, content):
        raise AttachmentRefused(
            _("The file “%(name)s” is not a %(type)s file: its content does not match.")
            % {"name": name, "type": content_type}
        )
    day = timezone.now().strftime("%Y/%m/%d")
    path = default_storage.save(
        f"{folder}/{day}/{secrets.token_hex(8)}-{stored_name(name, content_type)}",
        ContentFile(content),
    )
    return {
        "name": name,
        "url": default_storage.url(path),
        "path": path,
        "size": len(content),
        "content_type": content_type,
    }
