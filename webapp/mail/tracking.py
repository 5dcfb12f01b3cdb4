"""Tracking ids, link rewriting and the open pixel, applied to the rendered HTML of a real send.

Ids are signed, not looked up, and never show the recipient's token. The token (128 random
bits) is the handle of the unsubscribe and view-in-browser pages, and a pixel URL travels
further than the message (image proxies, access logs, forwarded mail), so an id carries
the token encrypted under a key of its own: a 4-round Feistel network over the 16 token
bytes, keyed BLAKE2b as the round function (a keyed permutation: one token, one
ciphertext; nothing about the token without the key). An open id is that ciphertext plus
a signature; a click id adds the campaign_links id and the number of tracked links in the
message, under the same signature. So:
- an id names exactly one recipient (and one link), and a forged, altered or truncated id
  fails the signature before anything is decrypted or read;
- link ids are plain database ids, but a recipient cannot swap in another link id (for
  instance another recipient's personalised link) without breaking the signature;
- the cipher and signature keys are derived from SECRET_KEY under different labels
  (rotating it retires old links).

Ids of the first format (the token in clear, same signature) are still in mail already
sent; they are accepted unless TRACKING_LEGACY_IDS is off, and never made any more. They
tell nothing new: the message that holds them holds the token in its unsubscribe link.
The two formats differ in length, so telling them apart costs nothing.
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
TOKEN_BYTES = 16
ROUNDS = 4  # Luby-Rackoff: four rounds of a PRF make a strong pseudorandom permutation
_HEX_TOKEN = re.compile(r"^[0-9a-f]{32}$")
_LINK = struct.Struct(">QH")  # campaign_links.id, tracked links in the message
# Decoded sizes: the encrypted token (+ link) + signature; the first format had a 0x10
# byte and the token in clear where the ciphertext now stands.
OPEN_ID_BYTES = TOKEN_BYTES + SIGNATURE_BYTES
CLICK_ID_BYTES = TOKEN_BYTES + _LINK.size + SIGNATURE_BYTES
_LEGACY_HEAD = b"\x10"
_A_HREF = re.compile(r"""(<a\b[^>]*?\shref\s*=\s*)(["'])(.*?)\2""", re.IGNORECASE | re.DOTALL)
_BODY_END = re.compile(r"</body\s*>", re.IGNORECASE)
# The open pixel's markup before and after its (escaped) URL.
PIXEL_PARTS = ('<img src="', '" width="1" height="1" alt="" '
               'style="display:block;width:1px;height:1px;border:0;margin:0;padding:0">')


@functools.lru_cache(maxsize=8)
def _key(secret: str) -> bytes:
    return hashlib.sha256(b"crm-tracking-ids\0" + secret.encode()).digest()


@functools.lru_cache(maxsize=8)
def _keyed_hmac(secret: str) -> hmac.HMAC:
    return hmac.new(_key(secret), digestmod="sha256")


@functools.lru_cache(maxsize=8)
def _keyed_round(secret: str) -> hashlib.blake2b:
    # A key of its own: knowing the signature key tells nothing about the cipher's.
    key = hashlib.sha256(b"crm-tracking-token-cipher\0" + secret.encode()).digest()
    return hashlib.blake2b(key=key, digest_size=TOKEN_BYTES // 2)


def _sign(secret: str, kind: bytes, payload: bytes) -> bytes:
    # A copy of an HMAC that has taken its key: hmac.digest() set the key up again on every
    # call (2 us; a message signs one id per link and the pixel).
    mac = _keyed_hmac(secret).copy()
    mac.update(kind + payload)
    return mac.digest()[:SIGNATURE_BYTES]


def _round(keyed: hashlib.blake2b, number: int, half: bytes) -> int:
    f = keyed.copy()  # keyed BLAKE2b is a PRF, like HMAC-SHA256, at a quarter of the cost
    f.update(bytes((number,)) + half)
    return int.from_bytes(f.digest())


def _xor(half: bytes, mask: int) -> bytes:
    return (int.from_bytes(half) ^ mask).to_bytes(TOKEN_BYTES // 2)


def seal_token(secret: str, token: str) -> bytes:
    """The 16 bytes that stand for `token` (32 hex digits) in every id: the token under a
    keyed permutation (Feistel network), so one token has one ciphertext and back."""
    if not _HEX_TOKEN.match(token):
        raise ValueError("tracking ids are made for recipient tokens of 32 lowercase hex digits")
    keyed, raw = _keyed_round(secret), bytes.fromhex(token)
    left, right = raw[:8], raw[8:]
    for number in range(ROUNDS):
        left, right = right, _xor(left, _round(keyed, number, right))
    return left + right


def unseal_token(secret: str, sealed: bytes) -> str:
    """The token `seal_token` made `sealed` from (only ever called on signed ids)."""
    keyed = _keyed_round(secret)
    left, right = sealed[:8], sealed[8:]
    for number in reversed(range(ROUNDS)):
        left, right = _xor(right, _round(keyed, number, left)), left
    return (left + right).hex()


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


def open_id(secret: str, token: str) -> str:
    return _open_id(secret, seal_token(secret, token))


def click_id(secret: str, token: str, link_id: int, links_in_message: int) -> str:
    return _click_id(secret, seal_token(secret, token), link_id, links_in_message)


def _open_id(secret: str, sealed: bytes) -> str:
    return _b64(sealed + _sign(secret, b"O", sealed))


def _click_id(secret: str, sealed: bytes, link_id: int, links_in_message: int) -> str:
    payload = sealed + _LINK.pack(link_id, min(links_in_message, 0xFFFF))
    return _b64(payload + _sign(secret, b"C", payload))


def _signed_payload(secret: str, kind: bytes, raw: bytes) -> bytes | None:
    payload, signature = raw[:-SIGNATURE_BYTES], raw[-SIGNATURE_BYTES:]
    if not hmac.compare_digest(signature, _sign(secret, kind, payload)):
        return None
    return payload


def _token_and_rest(secret: str, raw: bytes, size: int, kind: bytes, legacy_kind: bytes | None
                    ) -> tuple[str, bytes] | None:
    """(token, what follows it) of a genuine id of `size` decoded bytes, or of the first
    format (one byte more) signed as `legacy_kind` when that is given."""
    if len(raw) == size:
        payload = _signed_payload(secret, kind, raw)
        return None if payload is None else (unseal_token(secret, payload[:TOKEN_BYTES]), payload[TOKEN_BYTES:])
    if legacy_kind and len(raw) == size + 1 and raw[:1] == _LEGACY_HEAD:
        payload = _signed_payload(secret, legacy_kind, raw)
        return None if payload is None else (payload[1:1 + TOKEN_BYTES].hex(), payload[1 + TOKEN_BYTES:])
    return None


def parse_open_id(secret: str, text: str, *, legacy: bool = True) -> str | None:
    """The recipient token of a genuine open id, else None. `legacy`: ids of the first
    format (token in clear) are accepted too."""
    raw = _unb64(text)
    found = _token_and_rest(secret, raw, OPEN_ID_BYTES, b"O", b"o" if legacy else None) if raw else None
    return found[0] if found else None


def parse_click_id(secret: str, text: str, *, legacy: bool = True) -> tuple[str, int, int] | None:
    """(token, link id, links in the message) of a genuine click id, else None."""
    raw = _unb64(text)
    found = _token_and_rest(secret, raw, CLICK_ID_BYTES, b"C", b"c" if legacy else None) if raw else None
    if found is None:
        return None
    link_id, links = _LINK.unpack(found[1])
    return found[0], link_id, links


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
    return Tracker(secret, base_url, token, utm, link_ids)(html)


def link_hrefs(html: str) -> list[str]:
    """The href of every link Tracker.links looks at, in order, as written (unescaped)."""
    return [unescape(match.group(3)) for match in _A_HREF.finditer(html)]


class Tracker:
    """One recipient's tracking: called with a message's final HTML, rewrites its links and adds
    the open pixel (instrument_html); a compiled message, whose pixel is part of the template
    (mail/compiled.py), asks for the links alone and the pixel's URL."""

    def __init__(self, secret: str, base_url: str, token: str, utm: dict[str, str | None],
                 link_ids: Callable[[list[str]], dict[str, int]]) -> None:
        self.secret, self.base_url, self.link_ids = secret, base_url, link_ids
        self.utm_key = tuple(sorted(utm.items()))
        self.sealed = seal_token(secret, token)

    def __call__(self, html: str) -> str:
        body = self.links(html)
        pixel = PIXEL_PARTS[0] + escape(self.open_url()) + PIXEL_PARTS[1]
        ends = list(_BODY_END.finditer(body))
        if ends:
            at = ends[-1].start()
            return body[:at] + pixel + body[at:]
        return body + pixel

    def open_url(self) -> str:
        return f"{self.base_url}/api/crm/track/open/{_open_id(self.secret, self.sealed)}"

    def links(self, html: str) -> str:
        """`html` with its tracked links pointing at the click endpoint, nothing else changed."""
        matches = []
        for match in _A_HREF.finditer(html):
            target = _link_target(match.group(1), match.group(3), self.base_url, self.utm_key)
            if target is not None:
                matches.append((match.start(3), match.end(3), target))
        if not matches:
            return html
        ids = self.link_ids(sorted({target for _, _, target in matches}))
        # Ids are base64url: the escaped URL is the escaped prefix and the id as it is.
        click_prefix = escape(f"{self.base_url}/api/crm/track/click/")
        out, last = [], 0
        for start, end, target in matches:
            out.append(html[last:start])
            out.append(click_prefix + _click_id(self.secret, self.sealed, ids[target], len(ids)))
            last = end
        out.append(html[last:])
        return "".join(out)
