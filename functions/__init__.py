"""kfunc's function runtime: write handlers, kfunc serves them.

    from functions import load, predictor, generator, transformer, explainer, routes, Tensor, Context, Model, selected_device
"""
from . import startup  # noqa: F401  (first: it notes when the interpreter got here, for the cold-start timeline)
from .context import Context
from .device import selected_device
from .errors import InvalidInput, KFuncError
from .generation import Prompt, Sampling, Token
from .sdk import Model, explainer, generator, load, predictor, routes, transformer
from .tensors import Tensor

__all__ = ["Context", "InvalidInput", "KFuncError", "Model", "Prompt", "Sampling", "Tensor", "Token",
           "explainer", "generator", "load", "predictor", "routes", "selected_device", "transformer"]
