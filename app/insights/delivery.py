"""Send a report message: a Slack-compatible incoming webhook (JSON POST) or an e-mail over SMTP.

Every delivery is retried with exponential back-off (``DeliverySettings.attempts``, waits of
backoff_s, 2 backoff_s, 4 backoff_s, ...) while the failure may pass (a network error, HTTP 429 or
5xx, an SMTP 4xx answer); a permanent refusal (HTTP 4xx, SMTP 5xx, authentication) stops at once.
The final failure is one ``DeliveryError`` line that names the receiver without its secret parts:
a webhook by its scheme and host only (the path of an incoming webhook is its credential), an
SMTP server by host and port, never a password.
"""
from __future__ import annotations

import json
import smtplib
import socket
import ssl
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Callable, Optional, Sequence, TypeVar
from urllib.parse import urlsplit

from app.settings import EMAIL_PATTERN, DeliverySettings

T = TypeVar("T")
TIMEOUT_S = 20.0


class DeliveryError(Exception):
    """A delivery failed for good; ``str(error)`` is one line without secrets."""


class RetryableError(Exception):
    """A failure that may pass: try again after the back-off."""


def mask_url(url: str) -> str:
    """'https://hooks.example.com/...': the scheme and host of a URL, never its path, query or user info."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme or '?'}://{host}{port}/..."


def check_webhook_url(url: str) -> str:
    """The URL when it is an absolute http(s) URL with a host; ValueError (masked) otherwise."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"the webhook URL must be an http:// or https:// URL with a host, but {mask_url(url)} is given")
    return url


def check_addresses(value: str) -> list:
    """'a@x, b@y' -> ['a@x', 'b@y']; ValueError naming the first bad address."""
    addresses = [a.strip() for a in value.split(",") if a.strip()]
    if not addresses:
        raise ValueError("--email needs at least one address")
    for address in addresses:
        if not EMAIL_PATTERN.match(address):
            raise ValueError(f"{address!r} is not an e-mail address")
    return addresses


def with_retries(action: Callable[[], T], settings: DeliverySettings, what: str,
                 sleep: Callable[[float], None] = time.sleep,
                 on_retry: Optional[Callable[[int, str], None]] = None) -> T:
    """Run action; on RetryableError wait and try again, up to settings.attempts tries in all."""
    for attempt in range(1, settings.attempts + 1):
        try:
            return action()
        except RetryableError as error:
            if attempt == settings.attempts:
                raise DeliveryError(f"{what} failed after {attempt} attempts: {error}") from None
            if on_retry is not None:
                on_retry(attempt, str(error))
            sleep(settings.backoff_s * 2 ** (attempt - 1))
    raise AssertionError("unreachable")


def post_webhook(url: str, payload: dict, settings: DeliverySettings, sleep: Callable[[float], None] = time.sleep,
                 on_retry: Optional[Callable[[int, str], None]] = None) -> None:
    """POST payload as JSON to an incoming webhook; a 2xx answer is delivered."""
    body = json.dumps(payload).encode("utf-8")

    def once() -> None:
        request = urllib.request.Request(url, data=body, method="POST",
                                         headers={"Content-Type": "application/json", "User-Agent": "slotbandit"})
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as answer:
                answer.read()
        except urllib.error.HTTPError as error:
            message = f"HTTP {error.code}"
            if error.code == 429 or error.code >= 500:
                raise RetryableError(message) from None
            raise DeliveryError(f"webhook {mask_url(url)} refused the message: {message}") from None
        except (urllib.error.URLError, socket.timeout, ConnectionError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise RetryableError(f"cannot reach it ({type(reason).__name__})") from None

    with_retries(once, settings, f"webhook {mask_url(url)}", sleep, on_retry)


@dataclass(frozen=True)
class Mail:
    to: Sequence[str]
    subject: str
    text: str
    html: Optional[str] = None
    attachments: Sequence[Path] = ()


def build_mail(mail: Mail, sender: str) -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, ", ".join(mail.to), mail.subject
    message.set_content(mail.text)
    if mail.html:
        message.add_alternative(mail.html, subtype="html")
    for path in mail.attachments:
        subtype = "html" if path.suffix == ".html" else "csv" if path.suffix == ".csv" else "octet-stream"
        maintype = "text" if subtype != "octet-stream" else "application"
        message.add_attachment(path.read_bytes(), maintype=maintype, subtype=subtype, filename=path.name)
    return message


def send_mail(mail: Mail, settings: DeliverySettings, sleep: Callable[[float], None] = time.sleep,
              on_retry: Optional[Callable[[int, str], None]] = None) -> None:
    """Send mail through SMTP_HOST (STARTTLS and login when set)."""
    if not settings.smtp_host:
        raise DeliveryError("SMTP_HOST is not set: e-mail needs an SMTP server (see SMTP_HOST, SMTP_PORT)")
    message = build_mail(mail, settings.report_from)
    where = f"SMTP server {settings.smtp_host}:{settings.smtp_port}"

    def once() -> None:
        try:
            with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=TIMEOUT_S) as smtp:
                if settings.smtp_starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if settings.smtp_username:
                    smtp.login(settings.smtp_username, settings.smtp_password or "")
                refused = smtp.send_message(message)
        except smtplib.SMTPAuthenticationError as error:
            raise DeliveryError(f"{where} refused the login: {error.smtp_code}") from None
        except smtplib.SMTPRecipientsRefused as error:
            codes = {code for code, _ in error.recipients.values()}
            if all(400 <= code < 500 for code in codes):
                raise RetryableError(f"recipients refused for now ({', '.join(map(str, sorted(codes)))})") from None
            raise DeliveryError(f"{where} refused every recipient: {', '.join(error.recipients)}") from None
        except smtplib.SMTPResponseException as error:
            answer = f"{error.smtp_code} {_text(error.smtp_error)}"
            if 400 <= error.smtp_code < 500:
                raise RetryableError(answer) from None
            raise DeliveryError(f"{where} refused the mail: {answer}") from None
        except (smtplib.SMTPException, OSError) as error:
            raise RetryableError(f"cannot talk to it ({type(error).__name__})") from None
        if refused:
            raise DeliveryError(f"{where} refused some recipients: {', '.join(sorted(refused))}")

    with_retries(once, settings, where, sleep, on_retry)


def _text(value) -> str:
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    return " ".join(text.split())[:120]
