"""uvicorn with N worker processes, each building its own Editor from the one resolved config."""

from __future__ import annotations

import os

from j9330_rules.config import EditorConfig
from j9330_rules.editor import Editor
from j9330_rules.service.settings import HANDOVER, ServiceSettings, handover

APP = "j9330_rules.service.app:create_app"

#: Our access log (app.py) replaces uvicorn's, which would log query strings; uvicorn's own
#: messages keep their level. Everything goes to standard error.
LOG_CONFIG = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "plain", "stream": "ext://sys.stderr"}},
    "loggers": {
        "uvicorn": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
        "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
        "j9330_rules": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
    },
}


def serve(config: EditorConfig, settings: ServiceSettings, editor: Editor | None = None) -> None:
    """Serve until stopped (Ctrl-C or SIGTERM). ``editor``: already built from ``config`` (one
    worker uses it rather than building another)."""
    import uvicorn

    from j9330_rules.service import app

    os.environ[HANDOVER] = handover(config, settings)  # spawned workers inherit it
    if editor is not None and settings.workers == 1:
        app.PREBUILT["editor"] = editor
    uvicorn.run(
        APP,
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_config=LOG_CONFIG,
        access_log=False,
        server_header=False,
        timeout_keep_alive=settings.keep_alive,
        timeout_graceful_shutdown=settings.timeout,
    )
