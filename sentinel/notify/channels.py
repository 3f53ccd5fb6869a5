"""The senders, one per channel type: Slack incoming webhooks, a generic
signed webhook, e-mail over SMTP, and Prometheus Alertmanager. Each takes
one message (the notifications of one group, due together) and raises
DeliveryError on failure; the error's text never holds a secret.

Every message carries its stable idempotency key (the `Idempotency-Key`
header, the body's `idempotency_key`, an e-mail's Message-ID) so that a
receiver can drop a redelivery after a worker died mid-send."""

from __future__ import annotations

import hashlib
import hmac
import html
import smtplib
import ssl
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

import httpx
import orjson

from sentinel.notify_config import ChannelConfig, SecretMissing

USER_AGENT = "sentinel-notifier"
MAX_ERROR = 300


class DeliveryError(Exception):
    """A delivery failed; `permanent` when retrying cannot help (e.g. HTTP 400)."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


@dataclass(frozen=True)
class Item:
    idempotency_key: str
    kind: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class Message:
    channel: str
    route: str
    kind: str  # firing, repeat or resolved: one kind per message
    key: str  # the message's idempotency key
    items: tuple[Item, ...]
    now: datetime  # the database's clock when it was claimed


Sender = Callable[[ChannelConfig, Message, httpx.Client], None]


def deliver(config: ChannelConfig, message: Message, client: httpx.Client) -> None:
    """Send it, or raise DeliveryError with the secrets scrubbed out."""
    try:
        SENDERS[config.type](config, message, client)
    except DeliveryError as exc:
        raise DeliveryError(_scrub(str(exc), config), permanent=exc.permanent) from None
    except SecretMissing as exc:
        raise DeliveryError(f"channel {message.channel}: {exc}", permanent=False) from None
    except httpx.HTTPError as exc:
        raise DeliveryError(_scrub(f"{type(exc).__name__}: {exc}", config)) from None
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(_scrub(f"{type(exc).__name__}: {exc}", config)) from None


def _scrub(text: str, config: ChannelConfig) -> str:
    for secret in config.secrets():
        text = text.replace(secret, "***")
    text = " ".join(text.split())
    return text[:MAX_ERROR]


def _post(
    client: httpx.Client,
    config: ChannelConfig,
    url: str,
    body: bytes,
    headers: dict[str, str],
) -> None:
    response = client.post(
        url,
        content=body,
        headers={"Content-Type": "application/json", "User-Agent": USER_AGENT, **headers},
        timeout=config.timeout,
    )
    if response.status_code >= 300:
        # A refusal retrying cannot change (bad request, gone, forbidden) is
        # permanent; timeouts, throttling and server errors are retried.
        permanent = 400 <= response.status_code < 500 and response.status_code not in (
            408,
            425,
            429,
        )
        snippet = " ".join(response.text.split())[:120]
        raise DeliveryError(f"HTTP {response.status_code}: {snippet}", permanent=permanent)


# ---- the words ---------------------------------------------------------------

TITLES = {"firing": "firing", "repeat": "still active", "resolved": "cleared"}


def headline(item: Item) -> str:
    p = item.payload
    return f"[{p['severity'].upper()}] {TITLES[item.kind]}: {p['rule']} on {p['stream']}"


def text_of(message: Message) -> str:
    lines = []
    for item in message.items:
        p = item.payload
        lines += [headline(item), p["text"]]
        if p.get("link"):
            lines.append(p["link"])
        lines.append("")
    lines.append("Sentinel is advisory: it informs, it never acts on equipment or systems.")
    return "\n".join(lines)


# ---- Slack -------------------------------------------------------------------


def slack(config: ChannelConfig, message: Message, client: httpx.Client) -> None:
    blocks = []
    for item in message.items:
        p = item.payload
        words = (
            f"*{html.escape(headline(item), quote=False)}*\n{html.escape(p['text'], quote=False)}"
        )
        if p.get("link"):
            words += f"\n<{p['link']}|details>"
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": words}})
    body = {"text": text_of(message), "blocks": blocks}
    _post(
        client,
        config,
        config.resolved_url(),
        orjson.dumps(body),
        {"Idempotency-Key": message.key},
    )


# ---- the generic webhook -------------------------------------------------------


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """X-Sentinel-Signature: HMAC-SHA256 over "<timestamp>.<body>" with the
    shared secret, hex, prefixed "sha256=". A receiver recomputes it and
    refuses a timestamp too old (a replay)."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def webhook(config: ChannelConfig, message: Message, client: httpx.Client) -> None:
    body = orjson.dumps(
        {
            "idempotency_key": message.key,
            "kind": message.kind,
            "route": message.route,
            "notifications": [
                {"idempotency_key": i.idempotency_key, "kind": i.kind, **i.payload}
                for i in message.items
            ],
        }
    )
    timestamp = str(int(time.time()))
    _post(
        client,
        config,
        config.resolved_url(),
        body,
        {
            "Idempotency-Key": message.key,
            "X-Sentinel-Timestamp": timestamp,
            "X-Sentinel-Signature": signature(config.secret(), timestamp, body),
        },
    )


# ---- e-mail --------------------------------------------------------------------


def email(config: ChannelConfig, message: Message, client: httpx.Client) -> None:
    mail = EmailMessage()
    first = message.items[0]
    more = f" (+{len(message.items) - 1} more)" if len(message.items) > 1 else ""
    mail["Subject"] = headline(first) + more
    mail["From"] = config.sender or ""
    mail["To"] = ", ".join(config.to)
    mail["Message-ID"] = f"<{message.key}@sentinel>"  # the same on a redelivery
    mail["X-Sentinel-Idempotency-Key"] = message.key
    mail.set_content(text_of(message))
    mail.add_alternative(_html(message), subtype="html")
    context = ssl.create_default_context()
    host, port = config.host or "", config.smtp_port()
    smtp: smtplib.SMTP
    if config.security == "tls":
        smtp = smtplib.SMTP_SSL(host, port, timeout=config.timeout, context=context)
    else:
        smtp = smtplib.SMTP(host, port, timeout=config.timeout)
    with smtp:
        if config.security == "starttls":
            smtp.starttls(context=context)
        password = config.password()
        if config.username and password is not None:
            smtp.login(config.username, password)
        smtp.send_message(mail)


def _html(message: Message) -> str:
    parts = []
    for item in message.items:
        p = item.payload
        link = f'<p><a href="{html.escape(p["link"])}">details</a></p>' if p.get("link") else ""
        parts.append(f"<h3>{html.escape(headline(item))}</h3><p>{html.escape(p['text'])}</p>{link}")
    return "<html><body>" + "".join(parts) + "</body></html>"


# ---- Alertmanager --------------------------------------------------------------

ALERTNAME = "SentinelFinding"


def alerts(config: ChannelConfig, message: Message) -> list[dict[str, Any]]:
    """Alertmanager's v2 alerts: active ones end three refreshes from now
    (refreshed while the finding stays active), cleared ones at their clearing."""
    out = []
    for item in message.items:
        p = item.payload
        if item.kind == "resolved":
            ends = p.get("cleared_at") or message.now.isoformat()
        else:
            ends = (message.now + timedelta(seconds=3 * config.refresh)).isoformat()
        alert: dict[str, Any] = {
            "labels": {
                "alertname": ALERTNAME,
                "rule": p["rule"],
                "stream": p["stream"],
                "severity": p["severity"],
                "fingerprint": p["fingerprint"][:32],
            },
            "annotations": {"summary": p["summary"], "description": p["text"]},
            "startsAt": p["first_seen"],
            "endsAt": ends,
        }
        if p.get("link"):
            alert["generatorURL"] = p["link"]
            alert["annotations"]["link"] = p["link"]
        out.append(alert)
    return out


def alertmanager(config: ChannelConfig, message: Message, client: httpx.Client) -> None:
    url = config.resolved_url().rstrip("/") + "/api/v2/alerts"
    _post(
        client, config, url, orjson.dumps(alerts(config, message)), {"Idempotency-Key": message.key}
    )


SENDERS: dict[str, Sender] = {
    "slack": slack,
    "webhook": webhook,
    "email": email,
    "alertmanager": alertmanager,
}


def message_of(claimed: Sequence[Any]) -> Message:
    """One message from the notifications claimed together."""
    first = claimed[0]
    return Message(
        channel=first.channel,
        route=first.route,
        kind=first.kind,
        key=first.batch_key,
        items=tuple(Item(c.idempotency_key, c.kind, c.payload) for c in claimed),
        now=first.db_now,
    )
