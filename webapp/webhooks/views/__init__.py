"""The webhooks pages, one module per part of the area; all on the one `webhooks` blueprint."""

from . import debugger, deliveries, detail, endpoints, events, recovery, replacement  # noqa: F401
