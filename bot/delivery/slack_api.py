"""The Slack clients: the only module that imports slack_sdk (the targets are bot.delivery.slack_webhook
and bot.delivery.slack_token, the message-by-message delivery bot.delivery.slack).

Incoming webhook (SLACK_WEBHOOK_URL) or bot token (SLACK_BOT_TOKEN + channel, chat.postMessage, which
returns the message ts and lets continuations go in the thread). A 429 is retried after its
Retry-After (capped); nothing else is retried here, and never a timeout: Slack may have posted the
message before the answer was lost, and a blind retry would post it twice.

Every failure is a DeliveryError that says which of three it was: Slack answered and did not post
(definite: `invalid_blocks`, a 4xx or 5xx, a 429 whose wait is too long to sleep through, kept as
`retry_after`), the request never went out (a bad URL, a refused connection), or the outcome is
unknown (`maybe_sent`: a timeout after the request was sent).
"""

from __future__ import annotations

import socket
import time
from typing import Any
from urllib.error import URLError

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.webhook import WebhookClient

from bot.core.config import check_slack_url
from bot.core.errors import DeliveryError
from bot.delivery.slack import MARK_EVENT, OnSend

MAX_RETRY_AFTER = 30.0
HISTORY_PAGE = 200  # messages per conversations.history page (Slack's recommended most)
MAX_HISTORY_PAGES = 500  # 100k messages since the send: beyond that, "cannot tell" rather than read on


class CappedRateLimitRetry(RetryHandler):
    """Retries a 429 after Retry-After seconds, unless Slack asks for more than MAX_RETRY_AFTER."""

    def __init__(self, max_retry_count: int = 2, sleep: Any = time.sleep) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self._sleep = sleep

    def _can_retry(self, *, state: RetryState, request: HttpRequest, response: HttpResponse | None = None,
                   error: Exception | None = None) -> bool:
        return response is not None and response.status_code == 429 and _retry_after(response) <= MAX_RETRY_AFTER

    def prepare_for_next_attempt(self, *, state: RetryState, request: HttpRequest,
                                 response: HttpResponse | None = None, error: Exception | None = None) -> None:
        state.next_attempt_requested = True
        self._sleep(_retry_after(response) if response is not None else 1.0)
        state.increment_current_attempt()


def _retry_after(response: HttpResponse) -> float:
    return header_retry_after(response.headers)


def header_retry_after(headers: Any) -> float:
    """Seconds from a Retry-After header (1 when absent, just over the cap when unreadable)."""
    for key, values in (headers or {}).items():
        if key.lower() == "retry-after":
            value = values[0] if isinstance(values, list) else values
            try:
                return max(0.0, float(value))
            except (TypeError, ValueError):
                return MAX_RETRY_AFTER + 1
    return 1.0


class WebhookPoster:
    target = "slack webhook"

    def __init__(self, url: str, timeout: int = 15) -> None:
        check_slack_url(url, "SLACK_WEBHOOK_URL")
        self._client = WebhookClient(url, timeout=timeout, retry_handlers=[CappedRateLimitRetry()])

    def post(self, message: dict[str, Any], thread_ts: str | None = None, mark: str | None = None,
             on_send: OnSend | None = None) -> str | None:
        if on_send is not None:
            on_send()
        try:
            response = self._client.send(text=message["text"], blocks=message["blocks"], unfurl_links=False,
                                         unfurl_media=False)
        except TimeoutError as exc:
            raise DeliveryError("Slack webhook timed out; not retried, since Slack may have posted it",
                                self.target, retryable=False, maybe_sent=True) from exc
        except URLError as exc:
            timed_out = isinstance(exc.reason, TimeoutError | socket.timeout)
            raise DeliveryError(f"Slack webhook unreachable: {exc.reason}", self.target,
                                retryable=not timed_out, maybe_sent=timed_out) from exc
        except (SlackRequestError, ValueError) as exc:  # urllib refused the URL: nothing went out
            raise DeliveryError("Slack webhook URL was refused before sending; nothing was sent", self.target,
                                retryable=False) from exc
        except OSError as exc:
            raise DeliveryError(f"Slack webhook failed: {exc}", self.target) from exc
        body = (response.body or "").strip()
        if response.status_code == 429:
            wait = header_retry_after(response.headers)
            raise DeliveryError(f"Slack webhook is rate-limited (HTTP 429, Retry-After {wait:.0f} s)", self.target,
                                retry_after=wait)
        if response.status_code != 200 or body != "ok":
            # Slack answered, and not with "ok": nothing was posted (invalid_blocks, no_service, ...).
            raise DeliveryError(f"Slack webhook rejected the message (HTTP {response.status_code}: "
                                f"{body[:200] or 'no body'})", self.target,
                                retryable=response.status_code >= 500)
        return None

    def find(self, mark: str, thread_ts: str | None = None, oldest: str | None = None) -> bool | None:
        return None  # a webhook can post but not read the channel


class BotTokenPoster:
    target = "slack chat.postMessage"

    def __init__(self, token: str, channel: str, base_url: str | None = None, timeout: int = 15) -> None:
        if base_url:
            check_slack_url(base_url, "SLACK_API_URL")
        self._client = WebClient(token=token, base_url=base_url or WebClient.BASE_URL, timeout=timeout,
                                 retry_handlers=[CappedRateLimitRetry()])
        self.channel = channel

    def post(self, message: dict[str, Any], thread_ts: str | None = None, mark: str | None = None,
             on_send: OnSend | None = None) -> str | None:
        metadata = {"event_type": MARK_EVENT, "event_payload": {"mark": mark}} if mark else None
        if on_send is not None:
            on_send()
        try:
            response = self._client.chat_postMessage(channel=self.channel, text=message["text"],
                                                     blocks=message["blocks"], thread_ts=thread_ts,
                                                     unfurl_links=False, unfurl_media=False, metadata=metadata)
        except SlackApiError as exc:  # Slack answered ok:false (or an HTTP error): nothing was posted
            code = exc.response.get("error") if exc.response is not None else None
            status = getattr(exc.response, "status_code", 0) if exc.response is not None else 0
            if not code and exc.response is not None:
                code = str(getattr(exc.response, "data", "") or "")[:200] or None
            if status == 429 or code == "ratelimited":
                wait = header_retry_after(getattr(exc.response, "headers", None))
                raise DeliveryError(f"Slack chat.postMessage is rate-limited (HTTP {status}, Retry-After "
                                    f"{wait:.0f} s)", self.target, retry_after=wait) from exc
            raise DeliveryError(f"Slack chat.postMessage rejected the message: {code or f'HTTP {status}'}",
                                self.target, retryable=status >= 500 or code == "internal_error") from exc
        except TimeoutError as exc:
            raise DeliveryError("Slack chat.postMessage timed out; not retried, since Slack may have posted it",
                                self.target, retryable=False, maybe_sent=True) from exc
        except URLError as exc:
            raise DeliveryError(f"Slack unreachable: {exc.reason}", self.target) from exc
        except (SlackRequestError, ValueError) as exc:  # the URL was refused before anything went out
            raise DeliveryError("Slack API URL was refused before sending; nothing was sent", self.target,
                                retryable=False) from exc
        except OSError as exc:
            raise DeliveryError(f"Slack failed: {exc}", self.target) from exc
        ts = response.get("ts")
        if response.get("channel"):
            self.channel_id = str(response["channel"])
        return str(ts) if ts else None

    def find(self, mark: str, thread_ts: str | None = None, oldest: str | None = None) -> bool | None:
        """Reads the channel's history (or the thread) from `oldest` (a Slack ts: the send's time, less a
        margin) onwards, every page of it however busy the channel is, for a message carrying this mark
        in its metadata. Needs the channels:history scope; without it, or on any error, we cannot tell."""
        channel = getattr(self, "channel_id", None) or self.channel
        cursor: str | None = None
        try:
            for _page in range(MAX_HISTORY_PAGES):
                args: dict[str, Any] = {"channel": channel, "limit": HISTORY_PAGE, "include_all_metadata": True,
                                        "cursor": cursor}
                if oldest:
                    args["oldest"] = oldest
                if thread_ts:
                    response = self._client.conversations_replies(ts=thread_ts, **args)
                else:
                    response = self._client.conversations_history(**args)
                for message in response.get("messages") or []:
                    payload = (message.get("metadata") or {}).get("event_payload") or {}
                    if payload.get("mark") == mark:
                        return True
                cursor = ((response.get("response_metadata") or {}).get("next_cursor") or None)
                if not cursor:
                    return False
        except (SlackApiError, OSError, URLError):
            return None
        return None  # more history than we read: cannot tell


def check_token(token: str, base_url: str | None = None, timeout: int = 15) -> str:
    """`bot config check --online`: Slack's auth.test for a bot token (posts nothing). Returns who the
    token is ("bot @name in Team"); a DeliveryError says why Slack did not accept it."""
    if base_url:
        check_slack_url(base_url, "SLACK_API_URL")
    client = WebClient(token=token, base_url=base_url or WebClient.BASE_URL, timeout=timeout)
    try:
        response = client.auth_test()
    except SlackApiError as exc:
        code = exc.response.get("error") if exc.response is not None else None
        status = getattr(exc.response, "status_code", 0) if exc.response is not None else 0
        raise DeliveryError(f"Slack refused the bot token: {code or f'HTTP {status}'}", "slack auth.test",
                            retryable=False) from exc
    except (URLError, OSError, SlackRequestError, ValueError) as exc:
        raise DeliveryError(f"Slack did not answer: {getattr(exc, 'reason', None) or exc}", "slack auth.test") from exc
    user, team = response.get("user"), response.get("team")
    return f"the token is {'@' + str(user) if user else 'a bot'}" + (f" in {team}" if team else "")
