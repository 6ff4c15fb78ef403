"""``slotbandit serve``: the service under gunicorn, configured in one place.

The benchmark runs a bare Flask app through the same ``gunicorn_options`` so that the two are
compared under identical server settings.
"""
from __future__ import annotations

import gc
import json
import os
import shutil
import sys
import tempfile
from typing import Any, Dict, Optional

import gunicorn.util
from gunicorn.app.base import BaseApplication
from gunicorn.util import import_app

SWITCH_INTERVAL_S = 0.001
# gunicorn's own limits, at their maxima: the app answers what exceeds its own limits (app/api/limits.py)
# with a JSON error; what exceeds these is refused by gunicorn, in the same JSON shape (_json_error).
LIMIT_REQUEST_LINE = 8190
LIMIT_REQUEST_FIELDS = 200
LIMIT_REQUEST_FIELD_SIZE = 16384
_ERROR_CODES = {400: "bad_request", 403: "forbidden", 414: "uri_too_long", 417: "expectation_failed",
                431: "header_fields_too_large", 500: "internal", 501: "not_implemented"}


def gunicorn_options(host: str, port: int, workers: Optional[int] = None) -> Dict[str, Any]:
    return {
        "bind": f"{host}:{port}",
        "workers": workers or os.cpu_count() or 2,
        "worker_class": "sync",
        "timeout": 30,
        "graceful_timeout": 20,
        "backlog": 2048,
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "warning",
        "limit_request_line": LIMIT_REQUEST_LINE,
        "limit_request_fields": LIMIT_REQUEST_FIELDS,
        "limit_request_field_size": LIMIT_REQUEST_FIELD_SIZE,
        "post_worker_init": _prepare_worker,
        "worker_exit": _worker_exit,
        "child_exit": _child_exit,
    }


def _prepare_worker(worker) -> None:
    """Two settings of the interpreter that keep a request from waiting on the worker's own threads.

    Keep what a worker allocated while starting (modules, the app, the Cassandra driver) out of
    Python's cyclic garbage collector, so that its full collections scan only what requests made
    since: long collections are what make a long tail of latency.

    A request that needs the interpreter lock while a background thread holds it (the impression
    writer packing a flush, a propensity Monte Carlo slice) waits until that thread is asked to let
    go, after the switch interval: SWITCH_INTERVAL_S here instead of Python's 5 ms. README "Speed"
    gives the measured effect of both.
    """
    gc.collect()
    gc.freeze()
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    gunicorn.util.write_error = _json_error  # what gunicorn refuses itself answers JSON too


def _json_error(sock, status_int: int, reason: str, mesg: str) -> None:
    """gunicorn's error answer (a request it could not parse or that broke its limits), as the
    service's JSON error instead of an HTML page."""
    body = json.dumps({"error": {"code": _ERROR_CODES.get(status_int, "bad_request"),
                                 "message": f"{reason}: {mesg}" if mesg else reason}}).encode()
    head = (f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode("latin-1")
    gunicorn.util.write_nonblock(sock, head + body)


def _worker_exit(server, worker) -> None:
    """Drain the impression queue before a worker goes (SIGTERM, max-requests, reload)."""
    wsgi = sys.modules.get("app.wsgi")
    if wsgi is not None:
        wsgi.app.extensions["slotbandit"].close()


def _child_exit(server, worker) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


class _Server(BaseApplication):
    def __init__(self, app_uri: str, options: Dict[str, Any]):
        self.app_uri = app_uri
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        return import_app(self.app_uri)


def run(app_uri: str, host: str, port: int, workers: Optional[int] = None) -> None:
    """Serve ``app_uri`` in the foreground until SIGTERM or Ctrl-C."""
    metrics_dir = tempfile.mkdtemp(prefix="slotbandit-metrics-")
    # Must be set before any worker imports prometheus_client, so every worker writes its samples there.
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    # The tenants' rate limit buckets of this instance, mapped by every worker
    # (app/service/shared_buckets.py). An operator's own SLOTBANDIT_RATE_LIMIT_FILE is kept.
    limits_file = None
    if not os.environ.get("SLOTBANDIT_RATE_LIMIT_FILE", "").strip():
        limits_file = os.path.join(metrics_dir, "rate-limits")
        os.environ["SLOTBANDIT_RATE_LIMIT_FILE"] = limits_file
    try:
        _Server(app_uri, gunicorn_options(host, port, workers)).run()
    finally:
        if limits_file is not None:
            os.environ.pop("SLOTBANDIT_RATE_LIMIT_FILE", None)
        shutil.rmtree(metrics_dir, ignore_errors=True)
