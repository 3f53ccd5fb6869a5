"""Connection strings as people may see them: every password masked.

Pure text work (no psycopg), so settings errors can use it too. Forms:
`postgresql://user:secret@host/db`, `…/db?password=secret` (and `&`), and
key=value strings `host=h password=secret` or `password='with spaces'`;
`sslpassword` likewise."""

from __future__ import annotations

import re

MASK = "***"

_URL = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<netloc>[^/?#]*)(?P<rest>.*)$", re.S)
_QUERY_PASSWORD = re.compile(r"([?&](?:ssl)?password=)[^&#]*", re.I)
_KEYWORD_PASSWORD = re.compile(r"(\b(?:ssl)?password\s*=\s*)('(?:[^'\\]|\\.)*'?|[^\s']\S*)", re.I)


def mask(text: str) -> str:
    """`text` with any password replaced by ***."""
    url = _URL.match(text)
    if url is None:
        return _KEYWORD_PASSWORD.sub(lambda m: m.group(1) + MASK, text)
    netloc = url["netloc"]
    userinfo, at, hosts = netloc.rpartition("@")
    if at and ":" in userinfo:
        user = userinfo.partition(":")[0]
        netloc = f"{user}:{MASK}@{hosts}"
    rest = _QUERY_PASSWORD.sub(lambda m: m.group(1) + MASK, url["rest"])
    return url["scheme"] + netloc + rest
