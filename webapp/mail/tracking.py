"""Tracking ids, link rewriting and the open pixel, applied to the rendered HTML of a real send.

Ids are signed, not looked up: an open id is the recipient's token (128 random bits, the
same handle as the unsubscribe link) plus an HMAC; a click id adds the campaign_links id
and the number of tracked links in that message, under the same HMAC. So:
- an id names exactly one recipient (and one link), and a forged, altered or truncated id
  fails the signature before anything is read;
- link ids are plain database ids, but a recipient cannot swap in another link id (for
  instance another recipient's personalised link) without breaking the signature;
- the signature key is derived from SECRET_KEY (rotating it retires old links).
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import re
import struct
from collections.abc import Callable
from html import escape, unescape
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

SIGNATURE_BYTES = 10  # 80 bits: forging one needs ~2**79 tries against the live endpoint
_HEX_TOKEN = re.compile(r"^[0-9a-f]{32}$")
_LINK = struct.Struct(">QH")  # campaign_links.id, tracked links in the message
_A_HREF = re.compile(r"""(<a\b[^>]*?\shref\s*=\s*)(["'])(.*?)\2""", re.IGNORECASE | re.DOTALL)
_BODY_END = re.compile(r"</body\s*>", re.IGNORECASE)


@functools.lru_cache(maxsize=8)
def _key(secret: str) -> bytes:
    return hashlib.sha256(b"crm-tracking-ids\0" + secret.encode()).digest()


@functools.lru_cache(maxsize=8)
def _keyed_hmac(secret: str) -> hmac.HMAC:
    return hmac.new(_key(secret), digestmod="sha256")


def _sign(secret: str, kind: bytes, payload: bytes) -> bytes:
    # A copy of an HMAC that has taken its key: hmac.digest() set the key up again on every
    # call (2 us; a message signs one id per link and the pixel).
    mac = _keyed_hmac(secret).copy()
    mac.update(kind + payload)
    return mac.digest()[:SIGNATURE_BYTES]


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes | None:
    if not text or len(text) > 200 or not re.fullmatch(r"[A-Za-z0-9_-]+", text):
        return None
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None
    # One spelling per id: trailing bits that decode to the same bytes are refused.
    return raw if _b64(raw) == text else None


def _pack_token(token: str) -> bytes:
    # Tokens are 32 hex digits (16 bytes); anything else is carried as text, flagged.
    if _HEX_TOKEN.match(token):
        return b"\x10" + bytes.fromhex(token)
    raw = token.encode()[:64]
    return bytes([0x80 | len(raw)]) + raw


def _unpack_token(raw: bytes) -> tuple[str, bytes] | None:
    if not raw:
        return None
    head = raw[0]
    if head == 0x10 and len(raw) >= 17:
        return raw[1:17].hex(), raw[17:]
    size = head & 0x7F
    if head & 0x80 and 0 < size <= 64 and len(raw) >= 1 + size:
        try:
            return raw[1:1 + size].decode(), raw[1 + size:]
        except UnicodeDecodeError:
            return None
    return None


def open_id(secret: str, token: str) -> str:
    return _open_id(secret, _pack_token(token))


def click_id(secret: str, token: str, link_id: int, links_in_message: int) -> str:
    return _click_id(secret, _pack_token(token), link_id, links_in_message)


def _open_id(secret: str, packed_token: bytes) -> str:
    return _b64(packed_token + _sign(secret, b"o", packed_token))


def _click_id(secret: str, packed_token: bytes, link_id: int, links_in_message: int) -> str:
    payload = packed_token + _LINK.pack(link_id, min(links_in_message, 0xFFFF))
    return _b64(payload + _sign(secret, b"c", payload))


def _verified(secret: str, kind: bytes, text: str) -> bytes | None:
    raw = _unb64(text)
    if raw is None or len(raw) <= SIGNATURE_BYTES:
        return None
    payload, signature = raw[:-SIGNATURE_BYTES], raw[-SIGNATURE_BYTES:]
    if not hmac.compare_digest(signature, _sign(secret, kind, payload)):
        return None
    return payload


def parse_open_id(secret: str, text: str) -> str | None:
    """The recipient token of a genuine open id, else None."""
    payload = _verified(secret, b"o", text)
    unpacked = _unpack_token(payload) if payload else None
    if unpacked is None or unpacked[1]:
        return None
    return unpacked[0]


def parse_click_id(secret: str, text: str) -> tuple[str, int, int] | None:
    """(token, link id, links in the message) of a genuine click id, else None."""
    payload = _verified(secret, b"c", text)
    unpacked = _unpack_token(payload) if payload else None
    if unpacked is None or len(unpacked[1]) != _LINK.size:
        return None
    link_id, links = _LINK.unpack(unpacked[1])
    return unpacked[0], link_id, links


def safe_target(url: str) -> str:
    """The target as it may stand in a Location header: non-ASCII, spaces and control
    characters percent-encoded (no header can be injected through a stored link)."""
    return quote(url, safe="/:?#[]@!$&'()*+,;=%~")


def with_utm(url: str, utm: dict[str, str | None]) -> str:
    """`url` with the campaign's UTM parameters added (parameters already there win)."""
    wanted = {k: v for k, v in utm.items() if v}
    if not wanted:
        return url
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    present = {k for k, _ in query}
    query += [(k, v) for k, v in wanted.items() if k not in present]
    return urlunsplit(parts._replace(query=urlencode(query)))


def trackable(href: str, skip_prefixes: tuple[str, ...]) -> bool:
    lowered = href.lower()
    return lowered.startswith(("http://", "https://")) and not href.startswith(skip_prefixes)


@functools.lru_cache(maxsize=4096)
def _link_target(tag_start: str, href_attribute: str, base_url: str,
                 utm: tuple[tuple[str, str | None], ...]) -> str | None:
    """The stored target of a link as the HTML has it (the tag up to href=, the href value),
    or None when it is not tracked. Every message of a campaign has the same links: each is
    worked out once per process (links that differ per recipient pass through and out)."""
    href = unescape(href_attribute).strip()
    if "data-notrack" in tag_start.lower() or not trackable(
            href, (f"{base_url}/u/", f"{base_url}/v/", f"{base_url}/api/crm/track/")):
        return None
    return safe_target(with_utm(href, dict(utm)))


def instrument_html(html: str, *, secret: str, base_url: str, token: str,
                    utm: dict[str, str | None], link_ids: Callable[[list[str]], dict[str, int]]) -> str:
    """Rewrite every http(s) link (not mailto/tel/anchors, not our own unsubscribe and
    view-in-browser pages, not links marked data-notrack) to the click endpoint, and add the
    open pixel. `link_ids` maps stored targets to campaign_links ids (creating rows)."""
    utm_key = tuple(sorted(utm.items()))
    matches = []
    for match in _A_HREF.finditer(html):
        target = _link_target(match.group(1), match.group(3), base_url, utm_key)
        if target is not None:
            matches.append((match.start(3), match.end(3), target))
    ids = link_ids(sorted({target for _, _, target in matches})) if matches else {}
    packed_token = _pack_token(token)
    # Ids are base64url: the escaped URL is the escaped prefix and the id as it is.
    click_prefix = escape(f"{base_url}/api/crm/track/click/")
    out, last = [], 0
    for start, end, target in matches:
        out.append(html[last:start])
        out.append(click_prefix + _click_id(secret, packed_token, ids[target], len(ids)))
        last = end
    out.append(html[last:])
    body = "".join(out)
    pixel = (f'<img src="{escape(base_url)}/api/crm/track/open/{_open_id(secret, packed_token)}" width="1" height="1" '
             'alt="" style="display:block;width:1px;height:1px;border:0;margin:0;padding:0">')
    ends = list(_BODY_END.finditer(body))
    if ends:
        at = ends[-1].start()
        return body[:at] + pixel + body[at:]
    return body + pixel
