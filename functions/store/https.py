"""A single model file over HTTP(S) with urllib3: HEAD for its identity, one streamed GET."""
from __future__ import annotations

from pathlib import Path, PurePosixPath

import urllib3

from .errors import StoreError, StoreUnavailable
from .paths import safe_join
from .progress import Progress
from .settings import StoreSettings
from .source import RemoteFile
from .uri import HttpUri

_CHUNK = 1 << 20


class HttpSource:
    """One file at an http(s) URL; its identity is the ETag, else Last-Modified, plus the size."""

    def __init__(self, location: HttpUri, settings: StoreSettings) -> None:
        self.uri = location.url
        self._location = location
        self._pool = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=settings.connect_timeout, read=settings.read_timeout),
            retries=urllib3.Retry(total=settings.max_attempts - 1, backoff_factor=0.2,
                                  status_forcelist=(429, 500, 502, 503, 504)),
        )

    def _request(self, method: str, **kwargs) -> urllib3.BaseHTTPResponse:
        try:
            response = self._pool.request(method, self.uri, **kwargs)
        except urllib3.exceptions.HTTPError as exc:
            reason = getattr(exc, "reason", None) or exc
            raise StoreUnavailable(f"{self.uri}: store unreachable: {reason}") from exc
        if response.status >= 500 or response.status == 429:
            raise StoreUnavailable(f"{self.uri}: server answered {response.status}; will retry")
        if response.status >= 400:
            raise StoreError(f"{self.uri}: server answered {response.status}; check the URL and its access rights")
        return response

    def list(self) -> list[RemoteFile]:
        headers = self._request("HEAD").headers
        if "Content-Length" not in headers:
            raise StoreError(f"{self.uri}: the server sends no Content-Length; serve the file statically")
        version = headers.get("ETag") or headers.get("Last-Modified") or ""
        return [RemoteFile(PurePosixPath(self._location.filename), int(headers["Content-Length"]),
                           version, self.uri)]

    def download(self, files: list[RemoteFile], dest: Path, progress: Progress) -> None:
        target = safe_join(dest, files[0].path)
        response = self._request("GET", preload_content=False)
        try:
            with open(target, "wb") as out:
                for chunk in response.stream(_CHUNK):
                    out.write(chunk)
                    progress.update(len(chunk))
        except urllib3.exceptions.HTTPError as exc:
            raise StoreUnavailable(f"{self.uri}: download interrupted: {exc}") from exc
        finally:
            response.release_conn()
