"""Model URIs, local paths used in place, and the store:/cache: config sections."""
from __future__ import annotations

from pathlib import Path, PurePosixPath

import pytest

from functions.errors import ConfigError
from functions.schema import parse
from functions.store import CacheSettings, StoreError, StoreSettings, UnsafeObjectKey, fetch_model
from functions.store.paths import relative_key, safe_join
from functions.store.settings import parse_size, settings_from_config
from functions.store.uri import HttpUri, LocalUri, S3Uri, parse_uri


@pytest.mark.parametrize("uri, expected", [
    ("s3://bucket/models/bert/", S3Uri("bucket", "models/bert/")),
    ("s3://bucket", S3Uri("bucket", "")),
    ("file:///srv/models/bert", LocalUri(Path("/srv/models/bert"))),
    ("./models/bert", LocalUri(Path("models/bert"))),
    ("https://host/dir/model.pt?sig=1", HttpUri("https://host/dir/model.pt?sig=1", "model.pt")),
])
def test_uris_are_classified(uri, expected):
    assert parse_uri(uri) == expected


@pytest.mark.parametrize("uri, message", [
    ("gs://bucket/x", "scheme 'gs' is not supported"),
    ("s3:///x", "has no bucket"),
    ("https://host/dir/", "does not name a file"),
    ("file://server/share", "file:///absolute/path"),
    ("  ", "empty"),
])
def test_bad_uris_say_what_to_write(uri, message):
    with pytest.raises(ConfigError, match=message) as caught:
        parse_uri(uri)
    assert "KFUNC_MODEL_URI" in str(caught.value)


def test_local_directory_and_file_are_used_in_place(tmp_path, cache):
    (tmp_path / "model.pt").write_bytes(b"w")
    settings = StoreSettings()
    assert fetch_model(str(tmp_path), settings, cache) == tmp_path.resolve()
    assert fetch_model(f"file://{tmp_path}/model.pt", settings, cache) == tmp_path.resolve()
    assert not cache.root.exists()
    with pytest.raises(StoreError, match="no such file"):
        fetch_model(str(tmp_path / "absent"), settings, cache)


@pytest.mark.parametrize("key", ["p/../x", "p//x", "p/a/./b", "p/", "p/a\\..\\b"])
def test_unsafe_keys_are_refused(key):
    with pytest.raises(UnsafeObjectKey, match="rename the object"):
        relative_key(key, "p/", "s3://b/p/")


def test_safe_join_refuses_a_symlinked_directory_leading_out(tmp_path):
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (root / "sub").symlink_to(outside)
    assert safe_join(root, PurePosixPath("a/b.bin")) == root / "a" / "b.bin"
    with pytest.raises(UnsafeObjectKey, match="outside"):
        safe_join(root, PurePosixPath("sub/file.bin"))


def test_sections_parse_from_yaml_keys_with_hyphens():
    store, cache = settings_from_config(
        {"endpoint-url": "http://minio:9000", "addressing-style": "path", "max-concurrency": 16,
         "multipart-threshold": "128Mi"},
        {"dir": "/cache", "max-size": "20Gi", "verify": "sha256"},
    )
    assert store.endpoint_url == "http://minio:9000" and store.addressing_style == "path"
    assert store.max_concurrency == 16 and parse_size(store.multipart_threshold) == 128 * 2**20
    assert cache.max_size_bytes == 20 * 2**30 and cache.verify == "sha256"
    assert settings_from_config(None, None) == (StoreSettings(), CacheSettings())


@pytest.mark.parametrize("section, data, message", [
    ("cache", {"max-size": "20GB"}, "cache.max-size: '20GB' is not a size; use bytes or a quantity like 512Mi"),
    ("store", {"max-concurrency": 0}, "store.max-concurrency: must be greater than 0"),
    ("store", {"adressing-style": "path"}, "store.adressing-style: unknown field; did you mean 'addressing-style'"),
    ("cache", {"verify": "md5"}, "cache.verify: 'md5' is not allowed"),
])
def test_bad_settings_name_the_field_and_the_fix(section, data, message):
    cls = CacheSettings if section == "cache" else StoreSettings
    with pytest.raises(ConfigError) as caught:
        parse(cls, data, section)
    assert message in str(caught.value)


def test_env_overrides_the_file(monkeypatch):
    monkeypatch.setenv("KFUNC_CACHE_DIR", "/var/cache/kfunc")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://other:9000")
    assert CacheSettings(dir="/cache").root == Path("/var/cache/kfunc")
    assert StoreSettings(endpoint_url="http://minio:9000").effective_endpoint_url is None
    monkeypatch.delenv("KFUNC_CACHE_DIR")
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    assert CacheSettings(dir="/cache").root == Path("/cache")
    assert StoreSettings(endpoint_url="http://minio:9000").effective_endpoint_url == "http://minio:9000"
