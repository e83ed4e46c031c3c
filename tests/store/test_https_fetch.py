"""A single model file over HTTP from a real server on loopback."""
from __future__ import annotations

import functools
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from functions.store import StoreError, StoreSettings, StoreUnavailable, fetch_model


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def http_root(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}", server
    server.shutdown()
    server.server_close()


def test_single_file_lands_alone_in_a_directory_and_survives_an_outage(http_root, cache):
    root, url, server = http_root
    (root / "model.safetensors").write_bytes(b"\x00" * 5000)
    settings = StoreSettings(max_attempts=1, connect_timeout=1)

    model_dir = fetch_model(f"{url}/model.safetensors", settings, cache)
    assert [p.name for p in model_dir.iterdir()] == ["model.safetensors"]
    assert (model_dir / "model.safetensors").read_bytes() == b"\x00" * 5000

    server.shutdown()
    server.server_close()
    assert fetch_model(f"{url}/model.safetensors", settings, cache) == model_dir


def test_missing_file_is_a_permanent_error(http_root, cache):
    _, url, _ = http_root
    with pytest.raises(StoreError, match="answered 404") as caught:
        fetch_model(f"{url}/absent.bin", StoreSettings(max_attempts=1), cache)
    assert not isinstance(caught.value, StoreUnavailable)
