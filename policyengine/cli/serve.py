"""`policyengine serve`: the HTTP decision service on uvicorn (docs/service.md).

Loads the policy set first (its errors are printed and the command exits 1
before anything listens), then serves the API, the playground and the review
queue.  Without tokens it binds only to loopback and says so; a non-loopback
``--host`` without tokens is refused (exit 2).  Reloads on file change
(unless ``--no-watch``), on SIGHUP and on ``POST /v1/reload``, always keeping
the last good set.  SIGTERM or Ctrl-C stop it gracefully: in-flight requests
finish (up to ``--graceful-timeout`` seconds), then the journal is closed.

With ``--workers N`` (N > 1) a parent process binds the socket and runs N
worker processes, each with its own policy store; SIGHUP to the parent is
passed on to every worker, which reloads in place (uvicorn's own SIGHUP
would restart the workers, and a worker started on a broken set could not
serve the last good one); ``POST /v1/reload`` to any worker does the same
through the parent.

Exit codes: 0 after a clean shutdown; 1 when the policy set has errors; 2 for
a usage error (a bad token file, a public host without tokens, a missing
extra).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import IO, TYPE_CHECKING, Any

from .common import CommandError, ExitCode, add_policies_argument, policy_paths

# socket, ipaddress and signal are imported where they are used: every command line imports
# this module for its help.
if TYPE_CHECKING:
    import socket

NAME = "serve"
HELP = "run the HTTP decision service: API, playground, review queue (needs the `service` extra)"
#: The environment variable that carries a worker's configuration (--workers > 1).
CONFIG_ENV = "POLICYENGINE_SERVE_CONFIG"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from .decide import _add_limit_arguments

    add_policies_argument(parser)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, loopback)")
    parser.add_argument("--port", type=int, default=8181, help="port to listen on; 0 picks a free one (default: 8181)")
    parser.add_argument("--workers", type=int, default=1, help="worker processes (default: 1)")
    parser.add_argument(
        "--journal", metavar="URL", help="journal every decision: a SQLite path or sqlite:///…, or postgresql://…"
    )
    parser.add_argument(
        "--journal-mode", choices=("durable", "buffered"), default="durable", help="journal writes (default: durable)"
    )
    parser.add_argument(
        "--tokens", metavar="FILE", help="bearer tokens with roles, `ROLE TOKEN [NAME]` a line (else $POLICYENGINE_TOKENS)"
    )
    parser.add_argument(
        "--access-log", metavar="FILE", nargs="?", const="-", help="JSON-lines access log to FILE (`-` or none: stderr)"
    )
    parser.add_argument("--access-log-bodies", action="store_true", help="include request bodies (up to 4 KiB) in the log")
    parser.add_argument("--no-watch", action="store_true", help="do not reload when policy files change")
    parser.add_argument("--ssl-certfile", metavar="FILE", help="serve HTTPS with this certificate (PEM)")
    parser.add_argument("--ssl-keyfile", metavar="FILE", help="the certificate's private key (PEM)")
    parser.add_argument(
        "--graceful-timeout", type=int, default=20, metavar="S", help="seconds in-flight requests get at shutdown (default: 20)"
    )
    parser.add_argument(
        "--review-hours", type=float, default=72.0, metavar="H", help="hours to act on a negotiate decision (default: 72)"
    )
    _add_limit_arguments(parser)


def _is_loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _tokens(args: argparse.Namespace) -> Any:
    from ..service.auth import ENV_VAR, TokenFileError, parse_tokens

    try:
        if args.tokens:
            try:
                with open(args.tokens, encoding="utf-8") as fh:
                    text = fh.read()
            except OSError as exc:
                raise CommandError(f"--tokens: cannot read `{args.tokens}`: {exc.strerror}") from None
            return parse_tokens(text, args.tokens)
        if os.environ.get(ENV_VAR):
            return parse_tokens(os.environ[ENV_VAR], ENV_VAR)
    except TokenFileError as exc:
        raise CommandError(exc.message, exc.hint) from None
    return None


def _settings(args: argparse.Namespace) -> dict[str, Any]:
    """What a worker needs to build its app, as JSON (tokens are re-read from their file or variable)."""
    return {
        "paths": policy_paths(args),
        "watch": not args.no_watch,
        "journal": args.journal,
        "journal_mode": args.journal_mode,
        "tokens_file": args.tokens,
        "access_log": args.access_log,
        "access_log_bodies": args.access_log_bodies,
        "max_bytes": args.max_request_bytes,
        "max_depth": args.max_request_depth,
        "review_hours": args.review_hours,
        "secure_cookies": bool(args.ssl_certfile),
    }


def _open_log(target: str | None) -> IO[str] | None:
    if target is None:
        return None
    if target == "-":
        return sys.stderr
    return open(target, "a", encoding="utf-8", buffering=1)


def build_app(settings: dict[str, Any], tokens: Any, reload_others: Any = None) -> Any:
    from ..evaluation.jsonio import RequestLimits
    from ..service import ServiceConfig, create_app

    config = ServiceConfig(
        paths=settings["paths"],
        watch=settings["watch"],
        journal=settings["journal"],
        journal_mode=settings["journal_mode"],
        tokens=tokens,
        limits=RequestLimits(max_bytes=settings["max_bytes"], max_depth=settings["max_depth"]),
        access_log=_open_log(settings["access_log"]),
        access_log_bodies=settings["access_log_bodies"],
        review_hours=settings["review_hours"],
        secure_cookies=settings["secure_cookies"],
        reload_others=reload_others,
    )
    return create_app(config)


def worker_app() -> Any:
    """The app of one worker process (``--workers`` > 1): uvicorn imports and calls this."""
    settings = json.loads(os.environ[CONFIG_ENV])
    args = argparse.Namespace(tokens=settings["tokens_file"])
    import signal

    parent = os.getppid()
    # SIGHUP's default action ends the process: until the store installs its
    # handler (at startup), a SIGHUP passed on by the parent must not kill a
    # worker that is still loading (it reads the files as they are anyway).
    signal.signal(signal.SIGHUP, signal.SIG_IGN)

    def reload_others() -> None:
        # The parent passes SIGHUP on to every worker (this one reloads again: unchanged, cheap).
        os.kill(parent, signal.SIGHUP)

    return build_app(settings, _tokens(args), reload_others)


def run(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from ..service import ServiceSetupError
    except ImportError as exc:
        missing = (exc.name or "starlette").split(".")[0]
        raise CommandError(
            f"the service needs the `service` extra ({missing} is not installed): pip install 'policyengine[service]'"
        ) from None
    import signal

    if args.workers < 1:
        raise CommandError("--workers must be at least 1")
    if bool(args.ssl_certfile) != bool(args.ssl_keyfile):
        raise CommandError("--ssl-certfile and --ssl-keyfile go together", "give both, or neither for plain HTTP")
    tokens = _tokens(args)
    if tokens is None and not _is_loopback(args.host):
        raise CommandError(
            f"refusing to listen on `{args.host}` without tokens: anyone who can reach it could reload the policy set",
            "give --tokens FILE (or set POLICYENGINE_TOKENS), or listen on 127.0.0.1",
        )
    if tokens is None:
        print(
            "policyengine serve: no tokens configured: listening on loopback only; "
            "every local user may decide, review and reload (give --tokens FILE to require tokens)",
            file=sys.stderr,
        )
    settings = _settings(args)
    ssl = {"ssl_certfile": args.ssl_certfile, "ssl_keyfile": args.ssl_keyfile} if args.ssl_certfile else {}
    common: dict[str, Any] = {
        "host": args.host,
        "port": args.port,
        "log_config": None,
        "access_log": False,
        "timeout_graceful_shutdown": args.graceful_timeout,
        "server_header": False,
        **ssl,
    }
    scheme = "https" if ssl else "http"
    try:
        app = build_app(settings, tokens)  # also the check of the set: errors exit 1 before anything listens
    except ServiceSetupError as exc:
        raise CommandError(str(exc), exc.hint) from None
    if args.workers == 1:
        server = _Server(uvicorn.Config(app, **common), scheme)
        # uvicorn shuts down gracefully on SIGTERM and then raises it again for
        # the handler it found; a handler that does nothing lets the command
        # return 0 after a clean shutdown instead of dying of the signal.
        previous = signal.signal(signal.SIGTERM, lambda signum, frame: None)
        try:
            server.run()
        finally:
            signal.signal(signal.SIGTERM, previous)
        return ExitCode.OK
    app.service.close()
    os.environ[CONFIG_ENV] = json.dumps(settings)
    config = uvicorn.Config("policyengine.cli.serve:worker_app", factory=True, workers=args.workers, **common)
    sock = config.bind_socket()
    host, port = sock.getsockname()[:2]
    print(f"policyengine serve: {args.workers} workers on {scheme}://{_shown(host)}:{port}", file=sys.stderr, flush=True)
    _Workers(config, [sock]).run()
    return ExitCode.OK


def _shown(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _Server(config: Any, scheme: str) -> Any:
    """A uvicorn server that says where it listens once the socket is bound (the port may be 0)."""
    import uvicorn

    class Server(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            service = getattr(config.app, "service", None)
            version = service.store.version if service is not None else "?"
            for s in getattr(self, "servers", []):
                for sock in s.sockets:
                    host, port = sock.getsockname()[:2]
                    print(
                        f"policyengine serve: policy version {version} on {scheme}://{_shown(host)}:{port}",
                        file=sys.stderr,
                        flush=True,
                    )

    return Server(config)


def _Workers(config: Any, sockets: list[socket.socket]) -> Any:
    """uvicorn's process supervisor, with SIGHUP passed on to the workers (each reloads in place)."""
    from uvicorn.supervisors.multiprocess import Multiprocess

    class Workers(Multiprocess):
        def handle_hup(self) -> None:
            import signal

            for process in self.processes:
                pid = process.process.pid
                if pid is not None:
                    os.kill(pid, signal.SIGHUP)

    return Workers(config, sockets)
