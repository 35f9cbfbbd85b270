"""Telegram updates, parsed at the edge into plain dataclasses.

`parse_update` raises `MalformedUpdate` for anything that is not a Bot API update (the webhook
answers 400 and stores nothing). Update types we do not handle parse as kind "other".

Telegram counts entity offsets in UTF-16 code units (an emoji outside the BMP is 2); Python
strings count code points. Entities are converted here, once, so everything after works in
Python offsets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

HANDLED = ("message", "edited_message", "callback_query", "my_chat_member")
# The formatting the operator's thread renders; the rest (mentions, hashtags…) is plain text.
KEPT_ENTITIES = {
    "bold",
    "italic",
    "underline",
    "strikethrough",
    "code",
    "pre",
    "url",
    "text_link",
    "email",
    "phone_number",
    "spoiler",
    "blockquote",
}


class MalformedUpdate(ValueError):
    pass


@dataclass
class Sender:
    id: int
    first_name: str = ""
    last_name: str = ""
    username: str = ""
    language_code: str = ""


@dataclass
class IncomingFile:
    file_id: str
    kind: str
    name: str
    content_type: str
    size: int | None = None
    unique_id: str = ""


@dataclass
class IncomingMessage:
    chat_id: int
    chat_type: str
    message_id: int
    sender: Sender
    text: str = ""
    entities: list[dict[str, Any]] = field(default_factory=list)
    files: list[IncomingFile] = field(default_factory=list)
    reply_to_message_id: int | None = None
    media_group_id: str | None = None
    contact: dict[str, Any] | None = None
    location: dict[str, float] | None = None

    @property
    def external_id(self) -> str:
        return message_external_id(self.chat_id, self.message_id)


@dataclass
class CallbackQuery:
    id: str
    sender: Sender
    data: str = ""
    chat_id: int | None = None
    message_id: int | None = None


@dataclass
class MemberChange:
    chat_id: int
    chat_type: str
    sender: Sender
    old_status: str
    new_status: str

    @property
    def blocked(self) -> bool:
        return self.new_status == "kicked"


@dataclass
class Update:
    update_id: int
    kind: str
    message: IncomingMessage | None = None
    callback: CallbackQuery | None = None
    member: MemberChange | None = None


def message_external_id(chat_id: int, message_id: int) -> str:
    """Telegram message ids are unique per chat only."""
    return f"{chat_id}:{message_id}"


# --- UTF-16 ---------------------------------------------------------------------------------


def utf16_index(text: str) -> list[int]:
    """`index[u]` = the code-point offset where UTF-16 offset `u` falls (one entry per UTF-16
    unit, plus the end)."""
    index: list[int] = []
    for position, char in enumerate(text):
        index.append(position)
        if ord(char) > 0xFFFF:
            index.append(position)  # the second half of a surrogate pair
    index.append(len(text))
    return index


def convert_entities(text: str, raw: Any) -> list[dict[str, Any]]:
    """Bot API entities (UTF-16 offsets) -> ours: {type, offset, length[, url]} in code
    points, only the types we render, clipped to the text, in order."""
    if not isinstance(raw, list):
        return []
    index = utf16_index(text)
    units = len(index) - 1
    out = []
    for entity in raw:
        if not isinstance(entity, dict) or entity.get("type") not in KEPT_ENTITIES:
            continue
        offset, length = entity.get("offset"), entity.get("length")
        if not _is_int(offset) or not _is_int(length) or offset < 0 or length <= 0:
            continue
        end = min(offset + length, units)
        if offset >= end:
            continue
        start_cp, end_cp = index[offset], index[end]
        item: dict[str, Any] = {
            "type": entity["type"],
            "offset": start_cp,
            "length": end_cp - start_cp,
        }
        if entity["type"] == "text_link" and isinstance(entity.get("url"), str):
            item["url"] = entity["url"][:2000]
        out.append(item)
    out.sort(key=lambda e: (e["offset"], -e["length"]))
    return out


# --- parsing --------------------------------------------------------------------------------


def parse_update(payload: Any) -> Update:
    if not isinstance(payload, dict):
        raise MalformedUpdate("an update is a JSON object")
    update_id = payload.get("update_id")
    if not _is_int(update_id):
        raise MalformedUpdate("update_id must be an integer")
    kind = next((k for k in HANDLED if k in payload), "other")
    update = Update(update_id=update_id, kind=kind)
    if kind in ("message", "edited_message"):
        update.message = _message(payload[kind])
    elif kind == "callback_query":
        update.callback = _callback(payload[kind])
    elif kind == "my_chat_member":
        update.member = _member(payload[kind])
    return update


def _sender(raw: Any) -> Sender:
    if not isinstance(raw, dict) or not _is_int(raw.get("id")):
        raise MalformedUpdate("a user needs an integer id")
    return Sender(
        id=raw["id"],
        first_name=_str(raw.get("first_name"))[:150],
        last_name=_str(raw.get("last_name"))[:150],
        username=_str(raw.get("username"))[:64],
        language_code=_str(raw.get("language_code"))[:8],
    )


def _chat(raw: Any) -> tuple[int, str]:
    if not isinstance(raw, dict) or not _is_int(raw.get("id")):
        raise MalformedUpdate("a chat needs an integer id")
    return raw["id"], _str(raw.get("type")) or "private"


def _message(raw: Any) -> IncomingMessage:
    if not isinstance(raw, dict) or not _is_int(raw.get("message_id")):
        raise MalformedUpdate("a message needs an integer message_id")
    chat_id, chat_type = _chat(raw.get("chat"))
    sender = _sender(raw.get("from") or raw.get("chat"))
    text = raw.get("text")
    if isinstance(text, str):
        entities = convert_entities(text, raw.get("entities"))
    else:
        text = _str(raw.get("caption"))
        entities = convert_entities(text, raw.get("caption_entities"))
    message = IncomingMessage(
        chat_id=chat_id,
        chat_type=chat_type,
        message_id=raw["message_id"],
        sender=sender,
        text=text,
        entities=entities,
        media_group_id=_str(raw.get("media_group_id")) or None,
    )
    reply = raw.get("reply_to_message")
    if isinstance(reply, dict) and _is_int(reply.get("message_id")):
        message.reply_to_message_id = reply["message_id"]
    message.files = _files(raw)
    contact = raw.get("contact")
    if isinstance(contact, dict) and isinstance(contact.get("phone_number"), str):
        message.contact = {
            "phone_number": contact["phone_number"][:32],
            "first_name": _str(contact.get("first_name"))[:150],
            "last_name": _str(contact.get("last_name"))[:150],
            "user_id": contact.get("user_id") if _is_int(contact.get("user_id")) else None,
        }
    location = raw.get("location")
    if isinstance(location, dict):
        lat, lon = location.get("latitude"), location.get("longitude")
        if isinstance(lat, int | float) and isinstance(lon, int | float):
            message.location = {"latitude": float(lat), "longitude": float(lon)}
    return message


def _files(raw: dict[str, Any]) -> list[IncomingFile]:
    files: list[IncomingFile] = []
    photo = raw.get("photo")
    if isinstance(photo, list) and photo:
        # Sizes come smallest first; the operator gets the largest.
        sizes = [p for p in photo if isinstance(p, dict) and isinstance(p.get("file_id"), str)]
        if sizes:
            best = max(sizes, key=lambda p: (p.get("width") or 0) * (p.get("height") or 0))
            files.append(_file(best, "photo", "photo.jpg", "image/jpeg"))
    for kind, default_name, default_type in (
        ("document", "document", "application/octet-stream"),
        ("voice", "voice.ogg", "audio/ogg"),
        ("audio", "audio.mp3", "audio/mpeg"),
        ("video", "video.mp4", "video/mp4"),
        ("video_note", "video-note.mp4", "video/mp4"),
        ("animation", "animation.mp4", "video/mp4"),
        ("sticker", "sticker.webp", "image/webp"),
    ):
        item = raw.get(kind)
        if isinstance(item, dict) and isinstance(item.get("file_id"), str):
            if kind == "sticker" and item.get("is_animated"):
                default_name, default_type = "sticker.tgs", "application/x-tgsticker"
            elif kind == "sticker" and item.get("is_video"):
                default_name, default_type = "sticker.webm", "video/webm"
            files.append(_file(item, kind, default_name, default_type))
    return files


def _file(raw: dict[str, Any], kind: str, name: str, content_type: str) -> IncomingFile:
    size = raw.get("file_size")
    return IncomingFile(
        file_id=raw["file_id"],
        unique_id=_str(raw.get("file_unique_id")),
        kind=kind,
        name=_str(raw.get("file_name")) or name,
        content_type=_str(raw.get("mime_type")) or content_type,
        size=size if _is_int(size) else None,
    )


def _callback(raw: Any) -> CallbackQuery:
    if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
        raise MalformedUpdate("a callback query needs a string id")
    callback = CallbackQuery(id=raw["id"], sender=_sender(raw.get("from")))
    callback.data = _str(raw.get("data"))[:64]
    message = raw.get("message")
    if isinstance(message, dict) and isinstance(message.get("chat"), dict):
        callback.chat_id, _type = _chat(message["chat"])
        if _is_int(message.get("message_id")):
            callback.message_id = message["message_id"]
    return callback


def _member(raw: Any) -> MemberChange:
    if not isinstance(raw, dict):
        raise MalformedUpdate("my_chat_member is an object")
    chat_id, chat_type = _chat(raw.get("chat"))
    old, new = raw.get("old_chat_member"), raw.get("new_chat_member")
    if not isinstance(old, dict) or not isinstance(new, dict):
        raise MalformedUpdate("my_chat_member needs old_chat_member and new_chat_member")
    return MemberChange(
        chat_id=chat_id,
        chat_type=chat_type,
        sender=_sender(raw.get("from")),
        old_status=_str(old.get("status")),
        new_status=_str(new.get("status")),
    )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""
