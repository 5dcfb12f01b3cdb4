"""`make run`: the whole product on one machine with embedded defaults.

Migrates, seeds a demo tenant into an empty database, starts a private Redis unless
REDIS_URL is set, then a worker (with the scheduler) and the web server on
http://127.0.0.1:5000. Ctrl-C stops everything it started, and so do SIGTERM and SIGHUP
(a supervisor, a closed terminal) and the end of the process that started it (`make`
killed): nothing is left holding the port or the private Redis.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from webapp.testing import PrivateRedis

DEMO_EMAIL = "demo@example.com"
DEMO_PASSWORD = "demo-password"


def _flask(*args: str, env: dict[str, str]) -> subprocess.Popen:
    # Each in a process group of its own, so that stopping it reaches what it starts too (the
    # worker's scheduler process and work horses), also when it has to be killed: killing
    # the worker alone left those running.
    return subprocess.Popen([sys.executable, "-m", "flask", *args], env=env, start_new_session=True)


def _signal_group(child: subprocess.Popen, signum: int) -> None:
    try:
        os.killpg(child.pid, signum)
    except (ProcessLookupError, PermissionError):
        pass  # the whole group is gone already


def _stop(signum, _frame) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def main() -> int:
    # Started in the background by a shell, SIGINT arrives ignored: take it back.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGHUP, _stop)
    parent = os.getppid()
    env = dict(os.environ)
    env.setdefault("FLASK_APP", "wsgi")
    env.setdefault("FLASK_DEBUG", "1")
    env.setdefault("PYTHONUNBUFFERED", "1")
    redis = None
    if not env.get("REDIS_URL"):
        redis = PrivateRedis().start()
        env["REDIS_URL"] = redis.url
        print(f"* private Redis on {redis.url}")
    children: list[subprocess.Popen] = []
    try:
        subprocess.run([sys.executable, "-m", "flask", "db", "upgrade"], env=env, check=True)
        subprocess.run([sys.executable, "-m", "flask", "crm", "seed-demo", "--if-empty",
                        "--customers", env.get("DEMO_CUSTOMERS", "2000")], env=env, check=True)
        children.append(_flask("crm", "worker", env=env))
        children.append(_flask("run", "--host", "127.0.0.1", "--port", env.get("PORT", "5000"),
                               "--no-reload", env=env))
        time.sleep(1.5)
        print("\n" + "=" * 60)
        print(f"  Ticketing CRM is running: http://127.0.0.1:{env.get('PORT', '5000')}/")
        print(f"  Log in as {DEMO_EMAIL} / {DEMO_PASSWORD}")
        print("  Press Ctrl-C to stop (web, worker and the private Redis).")
        print("=" * 60 + "\n", flush=True)
        while all(child.poll() is None for child in children):
            if os.getppid() != parent:
                return 0  # whoever started us is gone (`make` killed): stop with it
            time.sleep(0.5)
        return 1
    except KeyboardInterrupt:
        return 0
    except subprocess.CalledProcessError as exc:
        print(f"set-up step failed: {exc}", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second one must not cut the clean-up short
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        for child in children:
            _signal_group(child, signal.SIGTERM)
        for child in children:
            try:
                child.wait(10)
            except subprocess.TimeoutExpired:
                pass
            _signal_group(child, signal.SIGKILL)  # what is left of it after a clean stop, or all of it
            child.wait()
        if redis is not None:
            redis.stop()


if __name__ == "__main__":
    sys.exit(main())
