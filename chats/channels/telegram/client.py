"""A small client for the Telegram Bot API over httpx: one method per call we make.

Bot API answers are `{"ok": true, "result": …}` or `{"ok": false, "error_code", "description",
"parameters": {"retry_after" | "migrate_to_chat_id"}}`. They become `TelegramError`s that
say what to do: wait (`retry_after`), send to another chat (`migrate_to_chat_id`), stop (403:
the user blocked the bot), or give up (400). The base URL is `TELEGRAM_API_BASE`, so tests
talk to a local fake server and air-gapped installs to a proxy.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

import httpx
from django.conf import settings

_TOKEN_IN_URL = re.compile(r"/bot[^/\s'\"]+/")


def redact(text: str, token: str = "") -> str:
    """`…/bot<token>/…` (in an httpx error, a logged URL) with the token hidden: what we
    store or log never carries a bot's credentials."""
    if token:
        text = text.replace(token, "<token>")
    return _TOKEN_IN_URL.sub("/bot<token>/", text)


@dataclass
class CallResult:
    """What one HTTP call did, for the delivery attempt log."""

    status_code: int | None
    duration_ms: int
    error: str = ""


class TelegramError(Exception):
    def __init__(
        self,
        description: str,
        *,
        status_code: int | None = None,
        retry_after: float | None = None,
        migrate_to_chat_id: int | None = None,
    ) -> None:
        super().__init__(description)
        self.description = description
        self.status_code = status_code
        self.retry_after = retry_after
        self.migrate_to_chat_id = migrate_to_chat_id

    @property
    def transient(self) -> bool:
        """Worth retrying: network trouble, flood control, Telegram's own 5xx."""
        return self.status_code is None or self.status_code == 429 or self.status_code >= 500

    @property
    def blocked(self) -> bool:
        return self.status_code == 403


class FileTooLarge(TelegramError):
    pass


class TelegramClient:
    def __init__(self, token: str, *, base: str | None = None, timeout: float | None = None):
        self.token = token
        self.base = (base or settings.TELEGRAM_API_BASE).rstrip("/")
        self.timeout = timeout if timeout is not None else settings.TELEGRAM_TIMEOUT_SECONDS
        self.last: CallResult | None = None

    def _url(self, method: str) -> str:
        return f"{self.base}/bot{self.token}/{method}"

    def call(
        self,
        method: str,
        params: dict[str, Any] | None = None,
        *,
        files: dict[str, tuple[str, bytes, str]] | None = None,
    ) -> Any:
        """Call one Bot API method; its `result`, or TelegramError."""
        started = time.monotonic()
        try:
            with httpx.Client(timeout=self.timeout) as http:
                if files:
                    data = {k: str(v) for k, v in (params or {}).items() if v is not None}
                    response = http.post(self._url(method), data=data, files=files)
                else:
                    response = http.post(self._url(method), json=params or {})
        except httpx.HTTPError as problem:
            error = redact(f"{type(problem).__name__}: {problem}", self.token)
            self.last = CallResult(None, _ms(started), error)
            raise TelegramError(error) from None
        self.last = CallResult(response.status_code, _ms(started))
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code == 200 and body.get("ok"):
            return body.get("result")
        parameters = body.get("parameters") or {}
        description = str(
            body.get("description") or f"HTTP {response.status_code} from the Bot API"
        )
        description = redact(description, self.token)
        self.last.error = description[:500]
        raise TelegramError(
            description,
            status_code=response.status_code,
            retry_after=_number(parameters.get("retry_after")),
            migrate_to_chat_id=parameters.get("migrate_to_chat_id"),
        )

    # --- the calls Smartdesk makes ---

    def send_message(self, chat_id: int, text: str, **extra: Any) -> dict[str, Any]:
        return self.call("sendMessage", {"chat_id": chat_id, "text": text, **extra})

    def send_file(
        self,
        method: str,
        field: str,
        chat_id: int,
        *,
        caption: str = "",
        url: str = "",
        upload: tuple[str, bytes, str] | None = None,
    ) -> dict[str, Any]:
        """sendPhoto / sendDocument: a file we host (uploaded) or a public URL."""
        params: dict[str, Any] = {"chat_id": chat_id}
        if caption:
            params["caption"] = caption[:1024]
        if upload is not None:
            return self.call(method, params, files={field: upload})
        return self.call(method, {**params, field: url})

    def answer_callback_query(self, callback_query_id: str, text: str = "") -> bool:
        params: dict[str, Any] = {"callback_query_id": callback_query_id}
        if text:
            params["text"] = text[:200]
        return bool(self.call("answerCallbackQuery", params))

    def set_webhook(self, url: str, *, secret_token: str, allowed_updates: list[str]) -> bool:
        return bool(
            self.call(
                "setWebhook",
                {"url": url, "secret_token": secret_token, "allowed_updates": allowed_updates},
            )
        )

    def get_file(self, file_id: str) -> dict[str, Any]:
        return self.call("getFile", {"file_id": file_id})

    def download(self, file_path: str, *, limit: int) -> bytes:
        """The file's bytes (`<base>/file/bot<token>/<file_path>`), streamed so a file over
        `limit` is refused without being read whole."""
        url = f"{self.base}/file/bot{self.token}/{file_path}"
        try:
            with (
                httpx.Client(timeout=self.timeout) as http,
                http.stream("GET", url) as response,
            ):
                if response.status_code != 200:
                    raise TelegramError(
                        f"HTTP {response.status_code} downloading a file",
                        status_code=response.status_code,
                    )
                chunks, size = [], 0
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > limit:
                        raise FileTooLarge("file too large", status_code=413)
                    chunks.append(chunk)
                return b"".join(chunks)
        except httpx.HTTPError as problem:
            raise TelegramError(
                redact(f"{type(problem).__name__}: {problem}", self.token)
            ) from None


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)
