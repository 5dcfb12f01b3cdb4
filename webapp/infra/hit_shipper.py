"""Shipping spooled tracking hits: one Redis command per batch, over a connection of the
shipper's own, adds the lines to the stream and moves the per-address counters (the
spool files, their thread and orphans are webapp/infra/hit_spool.py)."""

from __future__ import annotations

from redis import Redis
from redis.exceptions import RedisError, ResponseError

# One command per batch: a reply per hit cost the shipper more than the hits themselves.
# KEYS: the stream, `c` counters, then keys only read. ARGV: n, the n lines, ttl, c, what
# each counter gets. Returns the counters' totals, then the values read (0 when missing).
SHIP_BATCH = b"""
local n = tonumber(ARGV[1])
for i = 2, n + 1 do redis.call('XADD', KEYS[1], '*', 'h', ARGV[i]) end
local ttl, c, out = tonumber(ARGV[n + 2]), tonumber(ARGV[n + 3]), {}
for k = 1, c do
  local added = tonumber(ARGV[n + 3 + k])
  local total = redis.call('INCRBY', KEYS[1 + k], added)
  if total == added then redis.call('EXPIRE', KEYS[1 + k], ttl) end
  out[#out + 1] = total
end
for k = c + 2, #KEYS do out[#out + 1] = tonumber(redis.call('GET', KEYS[k]) or '0') end
return out
"""


def _resp(*parts: bytes) -> bytes:
    return b"*%d\r\n" % len(parts) + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts)


class Shipper:
    """Sends spooled lines to the stream over a connection of its own."""

    def __init__(self, redis_url: str, stream: str) -> None:
        self.client = Redis.from_url(redis_url, socket_timeout=10, socket_connect_timeout=5)
        self.stream = stream.encode()
        self.conn = None

    def ship(self, lines: list[bytes], counters: dict[bytes, int] | None = None, ttl: int = 0,
             read: list[bytes] | None = None) -> list[int]:
        """Every line is in the stream, and every counter moved, when this returns; returns
        the counters' new values, then the values of the `read` keys. Raises RedisError."""
        counters, read = counters or {}, read or []
        if not lines and not counters:
            return []
        if self.conn is None:
            self.conn = self.client.connection_pool.make_connection()
        keys = list(counters)
        command = _resp(b"EVAL", SHIP_BATCH, b"%d" % (1 + len(keys) + len(read)), self.stream, *keys, *read,
                        b"%d" % len(lines), *lines, b"%d" % ttl, b"%d" % len(keys),
                        *(b"%d" % counters[k] for k in keys))
        try:
            self.conn.send_packed_command([command], check_health=False)
            return self.conn.read_response()
        except ResponseError:
            # Refused (out of memory, the key holds something else): the lines stay spooled
            # and are sent again until Redis takes them; any it took already count once.
            raise
        except RedisError:
            self.conn.disconnect()
            self.conn = None
            raise

    def close(self) -> None:
        if self.conn is not None:
            self.conn.disconnect()
            self.conn = None
