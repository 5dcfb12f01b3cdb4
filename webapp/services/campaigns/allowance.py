"""The sending rate of a tenant, shared by every worker through Redis."""

from __future__ import annotations

import time

from webapp.infra.queues import redis_connection

# Reserve `n` sending slots of one tenant, spaced `interval` microseconds apart on Redis's
# clock (every worker shares it, whatever its own clock says). KEYS[1]: the end of the last
# slot given out. Slots start no earlier than now: time nobody used is not handed out later
# as a burst. Returns how many microseconds from now the first slot starts.
RESERVE_SLOTS = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval, n = tonumber(ARGV[1]), tonumber(ARGV[2])
local start = math.max(tonumber(redis.call('GET', KEYS[1]) or '0'), now)
local after = start + interval * n
redis.call('SET', KEYS[1], string.format('%d', after), 'PX', math.floor((after - now) / 1000) + 1000)
return start - now
"""


class SendAllowance:
    """At most `per_second` messages per tenant per second across every worker (Redis).

    Messages go out on slots 1/per_second apart, handed out by one Redis script that every
    worker calls (a generic cell rate algorithm): two workers share the rate, and messages
    are spread over the second rather than sent in a burst at its start. A sender reserves
    a few slots at once (1% of the rate, at least a group's worth, at most RESERVE_MAX), so
    at high rates it asks Redis once per few messages; below 100/s every message takes its
    own. A sender that falls behind its slots does not catch up later: the next slots start
    from now. In any second, then, at most per_second messages plus what one reservation
    per worker holds.
    """

    RESERVE_MAX = 20

    def __init__(self, tenant_id: int, per_second: int, at_least: int = 1) -> None:
        self.key = f"crm:rate:{tenant_id}"
        self.per_second = per_second
        # Rounded up, so the spacing never allows more than the rate.
        self.interval_us = -(-1_000_000 // per_second) if per_second > 0 else 0
        self.reserve = max(1, at_least, min(self.RESERVE_MAX, per_second // 100))
        self.next_slot = 0.0  # time.monotonic() of this sender's next reserved slot
        self.left = 0
        self.script = None

    def wait(self) -> None:
        """Return when one more message may go out."""
        if self.per_second <= 0:
            return
        if self.left == 0:
            if self.script is None:
                self.script = redis_connection().register_script(RESERVE_SLOTS)  # EVALSHA after the first
            delay_us = self.script(keys=[self.key], args=[self.interval_us, self.reserve])
            self.next_slot, self.left = time.monotonic() + int(delay_us) / 1_000_000, self.reserve
        slot = self.next_slot
        self.next_slot += self.interval_us / 1_000_000
        self.left -= 1
        pause = slot - time.monotonic()
        if pause > 0.0005:
            time.sleep(pause)
