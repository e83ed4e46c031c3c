"""A function serving a model repository from the real S3 test server: models listed from the bucket,
each fetched through the node cache on its first request, reloaded from the cache after an unload."""
from __future__ import annotations

import requests

from ..model_repository import make_function, make_model
from .conftest import read_tree


def test_a_repository_in_s3_is_listed_fetched_on_demand_and_reloaded_from_the_cache(serve, s3, aws_env, tmp_path):
    bucket = s3.new_bucket()
    for path, scale in {"alpha": 2, "beta/1": 3, "beta/2": 5}.items():
        files = read_tree(make_model(tmp_path / "local" / path, scale, size=1024))
        s3.put(bucket, {f"models/{path}/{name}": body for name, body in files.items()})
    s3.put(bucket, {"models/README.md": b"not a model"})
    directory = make_function(tmp_path, {})
    (directory / "kfunc.yaml").write_text(f"name: many\nmodel:\n  repository: s3://{bucket}/models/\n")
    server = serve(directory, "--workers", "1", env={"KFUNC_CACHE_DIR": str(tmp_path / "cache")})

    names = {(m["name"], m.get("version")) for m in requests.post(f"{server.url}/v2/repository/index", timeout=10).json()}
    assert names == {("alpha", None), ("beta", "1"), ("beta", "2")}
    s3.start_log()
    body = {"instances": [[1.0, 2.0]]}
    assert requests.post(f"{server.url}/v1/models/beta:predict", json=body, timeout=30).json() == \
        {"predictions": [[5.0, 10.0]]}
    assert s3.gets(bucket, "models/beta/2/weights.bin") and not s3.gets(bucket, "models/alpha/weights.bin")

    s3.start_log()
    assert requests.post(f"{server.url}/v2/repository/models/beta/unload", timeout=30).status_code == 200
    assert requests.post(f"{server.url}/v1/models/beta:predict", json=body, timeout=30).json() == \
        {"predictions": [[5.0, 10.0]]}
    assert not s3.gets(bucket, "models/beta/2/weights.bin")  # reloaded from the node cache


def test_a_model_uploaded_to_the_bucket_later_is_served_and_a_deleted_one_turns_unavailable(serve, s3, aws_env,
                                                                                             tmp_path):
    bucket = s3.new_bucket()

    def upload(name: str, scale: float) -> None:
        files = read_tree(make_model(tmp_path / "local" / name, scale, size=1024))
        s3.put(bucket, {f"models/{name}/{path}": body for path, body in files.items()})

    upload("alpha", 2)
    directory = make_function(tmp_path, {})
    (directory / "kfunc.yaml").write_text(f"name: many\nmodel:\n  repository: s3://{bucket}/models/\n"
                                          "  refresh-interval: 0\n")
    server = serve(directory, "--workers", "1", env={"KFUNC_CACHE_DIR": str(tmp_path / "cache")})
    body = {"instances": [[1.0, 2.0]]}

    upload("beta", 3)
    assert requests.post(f"{server.url}/v1/models/beta:predict", json=body, timeout=30).json() == \
        {"predictions": [[3.0, 6.0]]}
    s3.client().delete_objects(Bucket=bucket, Delete={"Objects": [
        {"Key": f"models/alpha/{name}"} for name in ("scale.txt", "weights.bin")]})
    rows = {m["name"]: m for m in requests.post(f"{server.url}/v2/repository/index", timeout=10).json()}
    assert rows["beta"]["state"] == "READY"
    assert rows["alpha"]["state"] == "UNAVAILABLE" and rows["alpha"]["reason"] == "removed from the model repository"
    assert requests.post(f"{server.url}/v1/models/alpha:predict", json=body, timeout=30).status_code == 404


def test_a_swap_from_the_node_cache_asks_s3_nothing_and_a_changed_model_is_fetched_once_listed_again(
        serve, s3, aws_env, tmp_path):
    """The repository's listing carries each model's files (sizes, ETags): a model unloaded and
    loaded again comes from the node cache without a request to the store; new files in the bucket
    are fetched once the repository is listed again."""
    bucket = s3.new_bucket()

    def upload(scale: float) -> None:
        files = read_tree(make_model(tmp_path / "local" / f"alpha-{scale}", scale, size=1024))
        s3.put(bucket, {f"models/alpha/{name}": body for name, body in files.items()})

    upload(2)
    directory = make_function(tmp_path, {})
    (directory / "kfunc.yaml").write_text(f"name: many\nmodel:\n  repository: s3://{bucket}/models/\n"
                                          "  refresh-interval: 0\n")
    server = serve(directory, "--workers", "1", env={"KFUNC_CACHE_DIR": str(tmp_path / "cache")})
    body = {"instances": [[1.0, 2.0]]}

    def predict() -> dict:
        return requests.post(f"{server.url}/v1/models/alpha:predict", json=body, timeout=30).json()

    def unload() -> None:
        assert requests.post(f"{server.url}/v2/repository/models/alpha/unload", timeout=30).status_code == 200

    assert predict() == {"predictions": [[2.0, 4.0]]}
    unload()
    s3.start_log()
    assert predict() == {"predictions": [[2.0, 4.0]]}
    assert [r for r in s3.requests() if r.path.startswith(f"/{bucket}")] == []  # no listing, no download

    upload(7)
    unload()
    assert requests.post(f"{server.url}/v2/repository/index", timeout=10).status_code == 200  # listed again
    assert predict() == {"predictions": [[7.0, 14.0]]}
    assert s3.gets(bucket, "models/alpha/weights.bin")
