"""A transformers causal LM served with continuous batching.

    @load
    def setup(model_dir):
        return CausalLM.from_pretrained(model_dir)

    @generator(tokenizer=lambda model: model.tokenizer)
    def generate(model, prompt, context):
        return model.stream(prompt, context.sampling)

Each sequence keeps its own KV cache (a transformers ``DynamicCache`` from its prefill). A
decoding step left-pads the running sequences' caches to one batch, masks the padding, runs
one forward pass with each sequence's own positions, and keeps each sequence's slice of the
grown cache: sequences of any length share a step, and join or leave between steps.
(The cache API is transformers 5's: the ``cache`` argument, ``DynamicCache.layers``.)
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, DynamicCache

from ..errors import InvalidInput
from .engine import Engine, Sequence, TokenStream
from .types import Prompt, Sampling


class CausalLM:
    """A model and its tokenizer behind an ``Engine``; ``stream`` queues a prompt."""

    def __init__(self, model: Any, tokenizer: Any, *, max_running: int = 16, max_queued: int = 64) -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        config = model.config
        self.max_length = int(getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions", 2048))
        ends = model.generation_config.eos_token_id if model.generation_config is not None else None
        ends = ends if ends is not None else tokenizer.eos_token_id
        self.end_ids = set(ends if isinstance(ends, (list, tuple)) else [] if ends is None else [ends])
        self.engine = Engine(self, max_running, max_queued)

    @classmethod
    def from_pretrained(cls, path: str | Path, **options: Any) -> "CausalLM":
        """The model and tokenizer saved in ``path`` (a local directory: nothing is downloaded)."""
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True)
        return cls(model, tokenizer, **options)

    def stream(self, prompt: Prompt | str, sampling: Sampling | None) -> TokenStream:
        """Queue ``prompt``; its tokens come on the stream as they are produced."""
        if isinstance(prompt, str):
            prompt = Prompt(prompt)
        ids = prompt.token_ids or self.tokenizer(prompt.text)["input_ids"]
        if not ids:
            raise InvalidInput("the prompt is empty: it has no tokens to continue")
        if len(ids) >= self.max_length:
            raise InvalidInput(f"the prompt has {len(ids)} tokens; this model takes at most {self.max_length - 1}")
        return self.engine.submit(ids, sampling or Sampling())

    # the engine's Stepper

    def is_end(self, token_id: int) -> bool:
        return token_id in self.end_ids

    def prefill(self, sequence: Sequence) -> torch.Tensor:
        with torch.inference_mode():
            out = self.model(input_ids=torch.tensor([sequence.ids]), use_cache=True)
        sequence.state = out.cache
        return out.logits[0, -1]

    def decode(self, sequences: list[Sequence]) -> torch.Tensor:
        """One step of every sequence: the last token of each, against its cache, in one batch."""
        lengths = [len(s.ids) - 1 for s in sequences]  # tokens already in each cache
        longest = max(lengths)
        pads = [longest - n for n in lengths]
        layers = len(sequences[0].state.layers)
        batched = DynamicCache(ddp_cache_data=[
            (torch.cat([_left_pad(s.state.layers[i].keys, p) for s, p in zip(sequences, pads)]),
             torch.cat([_left_pad(s.state.layers[i].values, p) for s, p in zip(sequences, pads)]))
            for i in range(layers)])
        mask = torch.ones(len(sequences), longest + 1, dtype=torch.long)
        for row, pad in enumerate(pads):
            mask[row, :pad] = 0
        with torch.inference_mode():
            out = self.model(input_ids=torch.tensor([[s.ids[-1]] for s in sequences]), attention_mask=mask,
                             position_ids=torch.tensor([[n] for n in lengths]), cache=batched,
                             use_cache=True)
        grown = out.cache
        for row, (sequence, pad) in enumerate(zip(sequences, pads)):
            sequence.state = DynamicCache(ddp_cache_data=[
                (layer.keys[row:row + 1, :, pad:], layer.values[row:row + 1, :, pad:]) for layer in grown.layers])
        return out.logits[:, -1]

    def pick(self, logits: torch.Tensor, sequence: Sequence) -> tuple[int, float | None]:
        """The next token: greedy at temperature 0, else sampled (temperature, top-p, the
        sequence's own seeded generator); with its log-probability under the model."""
        sampling = sequence.sampling
        logits = logits.float()
        if sampling.greedy:
            token = int(torch.argmax(logits))
        else:
            token = _sample(logits, sampling, _generator(sequence))
        logprob = float(torch.log_softmax(logits, dim=-1)[token]) if sampling.logprobs else None
        return token, logprob


def _left_pad(tensor: torch.Tensor, pad: int) -> torch.Tensor:
    """``tensor`` ([1, heads, length, dim]) with ``pad`` zero positions in front."""
    return torch.nn.functional.pad(tensor, (0, 0, pad, 0)) if pad else tensor


def _generator(sequence: Sequence) -> torch.Generator:
    """The sequence's random generator: from its seed (same seed, same tokens) or fresh."""
    if sequence.rng is None:
        sequence.rng = torch.Generator()
        if sequence.sampling.seed is not None:
            sequence.rng.manual_seed(sequence.sampling.seed)
        else:
            sequence.rng.seed()
    return sequence.rng


def _sample(logits: torch.Tensor, sampling: Sampling, generator: torch.Generator) -> int:
    probs = torch.softmax(logits / sampling.temperature, dim=-1)
    if sampling.top_p < 1:
        ordered, order = torch.sort(probs, descending=True)
        keep = torch.cumsum(ordered, dim=-1) - ordered < sampling.top_p  # the smallest set over top_p
        probs = torch.zeros_like(probs).scatter(0, order[keep], ordered[keep])
    return int(torch.multinomial(probs, 1, generator=generator))
