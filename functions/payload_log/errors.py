"""How a delivery to the sink failed: worth retrying, or not."""
from __future__ import annotations


class SinkUnavailable(Exception):
    """The sink could not take the events now (connection error, 5xx, 429): retried with backoff."""


class SinkRejected(Exception):
    """The sink refused the events (4xx, access denied): counted as failed, not retried."""
