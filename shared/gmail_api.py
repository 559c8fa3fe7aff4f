"""A small async adapter over the Gmail API (google-api-python-client), used by ingress-gmail and the dispatcher.

The client library is synchronous, so every call runs in a worker thread. The service object is built once from
the discovery document that ships with the package (no network at start-up); each worker thread uses
its own ``httplib2.Http`` because those are not thread-safe (the library's own advice), all sharing one set of
credentials.
``GMAIL_API_BASE_URL`` points the same code at a stand-in; production leaves it unset.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import google.auth.exceptions
import google_auth_httplib2
import httplib2
from google.auth.credentials import Credentials
from google.oauth2 import credentials as user_credentials
from google.oauth2 import service_account
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError

from shared.settings import Settings

SCOPES = ("https://www.googleapis.com/auth/gmail.modify",)
GOOGLE_OAUTH2_ENDPOINT = "https://oauth2.googleapis.com/token"


class GmailApiError(Exception):
    """The Gmail API refused (``status`` set) or could not be reached (``status`` None: timeout, network).

    ``unknown_outcome`` is true when the request may have been carried out although no answer arrived."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        reasons: tuple[str, ...] = (),
        unknown_outcome: bool = False,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after
        self.reasons = reasons
        self.unknown_outcome = unknown_outcome


class HistoryExpired(GmailApiError):
    """``users.history.list`` answered 404: the start history id is too old; a full sync is needed."""


def load_credentials(path: str, *, mailbox: str) -> Credentials:
    """A service account (impersonating ``mailbox`` through domain-wide delegation) or an authorised-user token."""
    info = json.loads(Path(path).read_text(encoding="utf-8"))
    kind = info.get("type")
    if kind == "service_account":
        return service_account.Credentials.from_service_account_info(info, scopes=list(SCOPES), subject=mailbox)
    if kind == "authorized_user":
        missing = {"client_id", "client_secret", "refresh_token"} - info.keys()
        if missing:
            raise ValueError(f"{path}: the authorized_user file lacks {', '.join(sorted(missing))}")
        # Built by hand: google-auth's from_authorized_user_info ignores the file's token_uri, which a stand-in
        # (or a staging token service) needs; service-account files keep theirs anyway.
        return user_credentials.Credentials(
            token=None,
            refresh_token=info["refresh_token"],
            token_uri=info.get("token_uri") or GOOGLE_OAUTH2_ENDPOINT,
            client_id=info["client_id"],
            client_secret=info["client_secret"],
            scopes=list(SCOPES),
            quota_project_id=info.get("quota_project_id"),
        )
    raise ValueError(f"{path}: expected a service_account or authorized_user credentials file, got type {kind!r}")


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date), never negative."""
    if not value or not value.strip():
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _error_reasons(exc: HttpError) -> tuple[str, ...]:
    details = exc.error_details if isinstance(exc.error_details, list) else []
    return tuple(str(d["reason"]) for d in details if isinstance(d, dict) and d.get("reason"))


def _translate(exc: Exception) -> GmailApiError:
    if isinstance(exc, HttpError):
        status = int(exc.resp.status)
        return GmailApiError(
            f"Gmail API answered {status}",
            status=status,
            retry_after=parse_retry_after(exc.resp.get("retry-after")),
            reasons=_error_reasons(exc),
        )
    if isinstance(exc, TimeoutError | socket.timeout):
        return GmailApiError("Gmail API timed out", unknown_outcome=True)
    if isinstance(exc, google.auth.exceptions.RefreshError):
        return GmailApiError(f"Gmail credentials could not be refreshed: {type(exc).__name__}")
    return GmailApiError(f"Gmail API unreachable: {type(exc).__name__}", unknown_outcome=True)


_TRANSPORT_ERRORS = (HttpError, OSError, httplib2.HttpLib2Error, google.auth.exceptions.GoogleAuthError)


class GmailApi:
    """The calls the mesh makes, as coroutines, on the mailbox of the authenticated user (``me``)."""

    def __init__(self, settings: Settings, *, timeout: float = 30.0) -> None:
        if not settings.gmail_credentials_file or not settings.gmail_mailbox:
            raise ValueError("GMAIL_CREDENTIALS_FILE and GMAIL_MAILBOX must be set")
        self.mailbox = settings.gmail_mailbox
        self.timeout = timeout
        self._credentials = load_credentials(settings.gmail_credentials_file, mailbox=settings.gmail_mailbox)
        self._local = threading.local()
        options = {"api_endpoint": _endpoint(settings.gmail_api_base_url)} if settings.gmail_api_base_url else None
        # The service's own http is never used: every call passes this thread's connection.
        self._service = build(
            "gmail", "v1", http=httplib2.Http(), static_discovery=True, cache_discovery=False, client_options=options
        )

    def _http(self) -> google_auth_httplib2.AuthorizedHttp:
        """This thread's connection (kept for reuse: one thread uses it at a time)."""
        http = getattr(self._local, "http", None)
        if http is None:
            http = google_auth_httplib2.AuthorizedHttp(self._credentials, http=httplib2.Http(timeout=self.timeout))
            self._local.http = http
        return http

    def _discard_http(self) -> None:
        """After a timeout or a network error the connection's state is unknown: the next call opens a new one."""
        http = getattr(self._local, "http", None)
        self._local.http = None
        if http is not None:
            with contextlib.suppress(Exception):
                http.close()

    async def _call(self, make: Callable[[Any], Any]) -> Any:
        """Build the request from the users resource and execute it in a worker thread."""

        def run() -> Any:
            try:
                return make(self._service.users()).execute(http=self._http())
            except HttpError as exc:
                raise _translate(exc) from exc
            except _TRANSPORT_ERRORS as exc:
                self._discard_http()
                raise _translate(exc) from exc

        return await asyncio.to_thread(run)

    async def profile(self) -> Mapping[str, Any]:
        return await self._call(lambda users: users.getProfile(userId="me"))  # type: ignore[no-any-return]

    async def watch(self, topic: str, *, label_ids: tuple[str, ...] = ("INBOX",)) -> Mapping[str, Any]:
        body = {"topicName": topic, "labelIds": list(label_ids), "labelFilterBehavior": "include"}
        return await self._call(lambda users: users.watch(userId="me", body=body))  # type: ignore[no-any-return]

    async def history(self, start_history_id: int, *, page_token: str | None = None) -> Mapping[str, Any]:
        """One page of messages added to the INBOX after ``start_history_id``; ``HistoryExpired`` when too old."""
        try:
            return await self._call(  # type: ignore[no-any-return]
                lambda users: users.history().list(
                    userId="me",
                    startHistoryId=str(start_history_id),
                    historyTypes="messageAdded",
                    labelId="INBOX",
                    maxResults=500,
                    pageToken=page_token,
                )
            )
        except GmailApiError as exc:
            if exc.status == 404:
                raise HistoryExpired("the history id is too old", status=404) from exc
            raise

    async def list_messages(self, query: str, *, max_results: int = 100) -> list[Mapping[str, Any]]:
        """Ids (and thread ids) of the messages matching a Gmail search, newest first, at most ``max_results``."""
        found: list[Mapping[str, Any]] = []
        page_token: str | None = None
        while len(found) < max_results:
            page = await self._call(
                lambda users, token=page_token: users.messages().list(
                    userId="me", q=query, maxResults=min(500, max_results - len(found)), pageToken=token
                )
            )
            found.extend(page.get("messages", []))
            page_token = page.get("nextPageToken")
            if not page_token:
                break
        return found[:max_results]

    async def get_message(
        self, message_id: str, *, fmt: str = "raw", headers: tuple[str, ...] = ()
    ) -> Mapping[str, Any] | None:
        """The message, or None when it no longer exists."""
        return await self._get_or_none(
            lambda users: users.messages().get(
                userId="me", id=message_id, format=fmt, metadataHeaders=list(headers) or None
            )
        )

    async def get_thread(self, thread_id: str, *, headers: tuple[str, ...] = ()) -> Mapping[str, Any] | None:
        return await self._get_or_none(
            lambda users: users.threads().get(
                userId="me", id=thread_id, format="metadata", metadataHeaders=list(headers) or None
            )
        )

    async def send(self, raw: str, *, thread_id: str | None = None) -> Mapping[str, Any]:
        """``raw``: the base64url RFC 822 message. Returns the sent message's id and thread id."""
        body = {"raw": raw, **({"threadId": thread_id} if thread_id else {})}
        return await self._call(lambda users: users.messages().send(userId="me", body=body))  # type: ignore[no-any-return]

    async def _get_or_none(self, make: Callable[[Any], Any]) -> Mapping[str, Any] | None:
        try:
            return await self._call(make)  # type: ignore[no-any-return]
        except GmailApiError as exc:
            if exc.status == 404:
                return None
            raise


def _endpoint(base_url: str) -> str:
    return base_url if base_url.endswith("/") else base_url + "/"


def header_map(message: Mapping[str, Any]) -> dict[str, str]:
    """Headers of a ``format=metadata`` message, keyed by lower-cased name (the first value wins)."""
    found: dict[str, str] = {}
    for header in message.get("payload", {}).get("headers", []):
        found.setdefault(str(header.get("name", "")).lower(), str(header.get("value", "")))
    return found
