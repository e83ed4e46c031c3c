"""Text generation: what a ``@generator`` receives and yields (``Prompt``, ``Sampling``, ``Token``),
and ``CausalLM``, a transformers causal LM served with continuous batching (``engine``)."""
from .types import Prompt, Sampling, Token

__all__ = ["CausalLM", "Prompt", "Sampling", "Token"]


def __getattr__(name: str):
    if name == "CausalLM":  # imported on use: it needs torch and transformers
        from .causal_lm import CausalLM
        return CausalLM
    raise AttributeError(name)
