"""Model store: fetch a model from S3, HTTP(S) or a local path into a verified, shared local cache."""
from .errors import StoreError, StoreUnavailable, UnsafeObjectKey
from .fetch import fetch_model
from .retry import retry_with_backoff
from .settings import CacheSettings, StoreSettings

__all__ = ["CacheSettings", "StoreError", "StoreSettings", "StoreUnavailable", "UnsafeObjectKey",
           "fetch_model", "retry_with_backoff"]
