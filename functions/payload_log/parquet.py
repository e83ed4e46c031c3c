"""A batch of logged events as one Parquet table (``logger.format: parquet``; pyarrow, ``kfunc[parquet]``).

One row an event: its attributes as columns (``statuscode``, ``latencyms``, ``binaryheadersize``
null on request events; ``truncated`` true for a streamed answer logged in part, else false), the
body as it came in the ``data`` binary column.
"""
from __future__ import annotations

import io

import pyarrow as pa
import pyarrow.parquet as pq
from cloudevents.http import CloudEvent

_STRINGS = ("id", "type", "source", "time", "inferenceservicename", "namespace", "component", "endpoint",
            "metadata", "datacontenttype", "traceparent")
SCHEMA = pa.schema([*((name, pa.string()) for name in _STRINGS), ("statuscode", pa.int32()),
                    ("latencyms", pa.float64()), ("binaryheadersize", pa.int64()), ("truncated", pa.bool_()),
                    ("data", pa.binary())])


def encode(events: list[CloudEvent]) -> bytes:
    """The events as a zstd-compressed Parquet file."""
    columns: dict[str, list] = {field.name: [] for field in SCHEMA}
    for event in events:
        attributes = event.get_attributes()
        for name in _STRINGS:
            columns[name].append(attributes.get(name))
        for name, kind in (("statuscode", int), ("latencyms", float), ("binaryheadersize", int)):
            value = attributes.get(name)
            columns[name].append(kind(value) if value is not None else None)
        columns["truncated"].append(bool(attributes.get("truncated")))
        columns["data"].append(event.get_data() or b"")
    out = io.BytesIO()
    pq.write_table(pa.table(columns, schema=SCHEMA), out, compression="zstd")
    return out.getvalue()
