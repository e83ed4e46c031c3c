"""kfunc's function runtime: write handlers, kfunc serves them.

    from functions import load, predictor, transformer, explainer, Tensor, Context, Model
"""
from .context import Context
from .errors import InvalidInput, KFuncError
from .sdk import Model, explainer, load, predictor, transformer
from .tensors import Tensor

__all__ = ["Context", "InvalidInput", "KFuncError", "Model", "Tensor",
           "explainer", "load", "predictor", "transformer"]
