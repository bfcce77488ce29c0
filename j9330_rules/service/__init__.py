"""The HTTP service: ``j9330-rules serve`` (the ``[service]`` extra; docs/service.md).

An ASGI app (FastAPI, served by uvicorn) over the same Editor the CLI uses. Each worker process
builds its own Editor from one :class:`~j9330_rules.config.EditorConfig`, resolved once from the
command line, the ``J9330_RULES_*`` variables and the settings file, as the CLI resolves it.

- settings.py: :class:`ServiceSettings` (bind, workers, keys, limits) and the hand-over to workers
- auth.py: optional bearer tokens, compared in constant time
- limits.py: the request-size limit (413) and the body-read timeout
- app.py: the routes, the access log and the OpenAPI document with the generated schemas
- run.py: uvicorn with N workers

FastAPI and uvicorn are imported by app.py and run.py only, so ``settings`` and ``auth`` load
without the extra.
"""
