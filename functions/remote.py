"""Calling a remote predictor over V1, V2 or V2 gRPC (``KFUNC_PREDICTOR_HOST``), as KServe's ``--predictor_host``."""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from . import telemetry
from .binding import bind_json, output_tensors
from .context import Context
from .errors import ConfigError, KFuncError, RemotePredictorError
from .protocol import v2
from .protocol.binary import HEADER_LENGTH
from .protocol.jsonutil import dumps, loads
from .tensors import Tensor

if TYPE_CHECKING:
    import urllib3

    from .grpc_client import GrpcInferenceClient


class RemotePredictor:
    """Sends the transformer's output to ``http://HOST/v1|v2/...`` (or, with protocol ``grpc``, to
    ``inference.GRPCInferenceService/ModelInfer`` at HOST) and returns the predictor's answer.

    The answer comes back as a local predictor's would: an array (one output) or a dict of
    arrays, typed by the declared outputs (V1 ``predictions`` that are not tensors stay JSON).
    """

    def __init__(self, host: str, model_name: str, protocol: str = "v1", inputs: list[Tensor] | None = None,
                 outputs: list[Tensor] | None = None, timeout: float = 60.0) -> None:
        if protocol not in ("v1", "v2", "grpc"):
            raise ConfigError(f"KFUNC_PREDICTOR_PROTOCOL={protocol!r}: not a protocol; set it to v1, v2 or grpc "
                              "(the predictor's KServe protocol), or unset it for v1")
        self.base = host if host.startswith(("http://", "https://")) else f"http://{host}"
        self.model_name = model_name
        self.protocol = protocol
        self.inputs = inputs or []
        self.outputs = outputs or []
        self.timeout = timeout
        self._pool: urllib3.PoolManager | None = None  # created on first use, after fork
        self._grpc: GrpcInferenceClient | None = None

    @classmethod
    def from_env(cls, model_name: str, inputs: list[Tensor], outputs: list[Tensor]) -> "RemotePredictor | None":
        host = os.environ.get("KFUNC_PREDICTOR_HOST")
        if not host:
            return None
        return cls(host, os.environ.get("KFUNC_PREDICTOR_MODEL", model_name),
                   os.environ.get("KFUNC_PREDICTOR_PROTOCOL", "v1"), inputs, outputs)

    def __call__(self, data: Any, context: Context) -> Any:
        headers = {"Content-Type": "application/json", "X-Request-Id": context.request_id}
        telemetry.inject(headers)
        if self.protocol == "grpc":
            return self._infer_grpc(data, context, headers)
        if self.protocol == "v1":
            payload = data if isinstance(data, dict) and "instances" in data else {"instances": data}
            answer = self._post(f"/v1/models/{self.model_name}:predict", dumps(payload), headers)
            return bind_json(loads(answer.data)["predictions"], self.outputs)
        body, extra = v2.encode_request(output_tensors(data, self.inputs), binary=False, request_id=context.request_id)
        answer = self._post(f"/v2/models/{self.model_name}/infer", body, {**headers, **extra})
        length = answer.headers.get(HEADER_LENGTH)
        _, outputs = v2.decode_response(answer.data, int(length) if length else None)
        return _result(outputs)

    def _infer_grpc(self, data: Any, context: Context, headers: dict[str, str]) -> Any:
        from .grpc_client import GrpcInferenceClient  # here: most functions never call a remote predictor
        from .protocol import grpc_codec

        if self._grpc is None:
            self._grpc = GrpcInferenceClient(self.base, self.timeout)
        request = grpc_codec.encode_request(self.model_name, output_tensors(data, self.inputs), raw=True,
                                            request_id=context.request_id)
        metadata = [(key.lower(), value) for key, value in headers.items() if key != "Content-Type"]
        return _result(grpc_codec.decode_response(self._grpc.infer(request, metadata)))

    def _post(self, path: str, body: bytes, headers: dict[str, str]) -> urllib3.BaseHTTPResponse:
        import urllib3  # here, not at the top: most functions never call a remote predictor

        if self._pool is None:
            self._pool = urllib3.PoolManager(maxsize=16, retries=urllib3.Retry(connect=2, read=0, backoff_factor=0.1))
        url = self.base + path
        try:
            answer = self._pool.request("POST", url, body=body, headers=headers, timeout=self.timeout)
        except urllib3.exceptions.HTTPError as exc:
            raise RemotePredictorError(f"predictor at {url} is unreachable: {exc}") from None
        if answer.status >= 400:
            raise _remote_error(url, answer)
        return answer


def _result(outputs: list[v2.InferTensor]) -> Any:
    return outputs[0].data if len(outputs) == 1 else {t.name: t.data for t in outputs}


def _remote_error(url: str, answer: urllib3.BaseHTTPResponse) -> KFuncError:
    try:
        message = loads(answer.data).get("error", "")
    except Exception:
        message = answer.data[:200].decode("utf-8", "replace")
    error = KFuncError(f"predictor at {url} answered {answer.status}: {message}")
    error.status = answer.status if answer.status < 500 else RemotePredictorError.status
    return error
