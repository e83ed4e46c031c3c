"""A transformers causal LM served with continuous batching.

    @load
    def setup(model_dir):
        return CausalLM.from_pretrained(model_dir)

    @generator(tokenizer=lambda model: model.tokenizer)
    def generate(model, prompt, context):
        return model.stream(prompt, context.sampling)

Joining sequences are prefilled together (left-padded, masked) into one KV cache (a transformers
``DynamicCache``), each holding its row, until the next decoding step, which runs every running
sequence in one forward pass, each at its own position, on one batched cache: kept from step
to step, and gathered anew when sequences leave or join (the rows of the kept members and of
the joiners, left-padded to one length). Sequences of any length share a step.
(The cache API is transformers 5's: the ``cache`` argument, ``DynamicCache.layers``.)
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, DynamicCache

from ..device import selected_device
from ..errors import InvalidInput
from .engine import Engine, Sequence, TokenStream
from .process import ProcessEngine
from .types import Prompt, Sampling, Token


BATCHED = "batched"  # a sequence's state once its cache is a row of the batch's


class Rows(NamedTuple):
    """Where a sequence's KV cache is: ``row`` of ``cache``, after ``pad`` positions of left padding."""

    cache: DynamicCache
    row: int
    pad: int


ENGINES = {"thread": Engine, "process": ProcessEngine}  # where the engine runs: a thread of the server, or a child


def default_engine(device: torch.device) -> str:
    """Where a model's engine runs by default: a process of its own, but a thread of the worker for a
    model on CUDA (a CUDA context does not survive ``fork``)."""
    return "thread" if device.type == "cuda" else "process"


class CausalLM:
    """A model and its tokenizer behind an ``Engine``; ``stream`` queues a prompt."""

    def __init__(self, model: Any, tokenizer: Any, *, max_running: int = 16, max_queued: int = 64,
                 engine: str | None = None) -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        config = model.config
        self.max_length = int(getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions", 2048))
        ends = model.generation_config.eos_token_id if model.generation_config is not None else None
        ends = ends if ends is not None else tokenizer.eos_token_id
        self.end_ids = set(ends if isinstance(ends, (list, tuple)) else [] if ends is None else [ends])
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0  # masked anyway
        self._batch: list[Sequence] = []  # the rows of the batch's KV cache, in order
        self._cache: Any = None
        self.device = model.device  # where its inputs go (CPU, or the GPU the model was moved to)
        self._mask = torch.ones(0, 0, dtype=torch.long, device=self.device)
        self._pads: list[int] = []
        engine = engine or default_engine(self.device)
        if engine not in ENGINES:
            raise ValueError(f"engine must be one of {sorted(ENGINES)}, got {engine!r}")
        self.engine = ENGINES[engine](self, max_running, max_queued)

    @classmethod
    def from_pretrained(cls, path: str | Path, device: str | None = None, **options: Any) -> "CausalLM":
        """The model and tokenizer saved in ``path`` (a local directory: nothing is downloaded), the
        model on ``device`` (default: ``functions.selected_device()``, CUDA when the function's is)."""
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True)
        return cls(model.to(device or selected_device()), tokenizer, **options)

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

    def prefill(self, sequences: list[Sequence]) -> torch.Tensor:
        """The prompts of joining sequences in one forward pass (left-padded): the logits of each
        one's first token; each holds its row of the prefill's cache until it joins the batch."""
        lengths = [len(s.ids) for s in sequences]
        longest = max(lengths)
        pads = [longest - n for n in lengths]
        ids = torch.tensor([[self.pad_id] * pad + s.ids for s, pad in zip(sequences, pads)], device=self.device)
        mask = _mask(pads, longest, self.device)
        with torch.inference_mode():
            out = self.model(input_ids=ids, attention_mask=mask, position_ids=(mask.cumsum(1) - 1).clamp(min=0),
                             use_cache=True)
        for row, (sequence, pad) in enumerate(zip(sequences, pads)):
            sequence.state = Rows(out.cache, row, pad)
        return out.logits[:, -1]

    def decode(self, sequences: list[Sequence]) -> torch.Tensor:
        """One step of every sequence: the last token of each, against the batch's cache. The
        cache is kept from step to step and gathered anew when the batch changes."""
        if sequences != self._batch:
            self._gather(sequences)
        mask = torch.cat([self._mask, torch.ones(len(sequences), 1, dtype=torch.long, device=self.device)], dim=1)
        ids = torch.tensor([[s.ids[-1]] for s in sequences], device=self.device)
        positions = torch.tensor([[len(s.ids) - 1] for s in sequences], device=self.device)
        with torch.inference_mode():
            out = self.model(input_ids=ids, attention_mask=mask, position_ids=positions, cache=self._cache,
                             use_cache=True)
        self._cache, self._mask = out.cache, mask
        return out.logits[:, -1]

    def _gather(self, sequences: list[Sequence]) -> None:
        """The batch's cache for ``sequences``, in their order: the rows of the batch's cache and
        of the joiners' prefill caches, each source left-padded once to the longest, then one
        row selection per layer (a handful of tensor operations, however many rows move)."""
        staying = {id(s) for s in sequences}
        for row, member in enumerate(self._batch):
            if member.state is BATCHED:  # (one that left has ended or was cancelled: its row is freed)
                member.state = Rows(self._cache, row, self._pads[row]) if id(member) in staying else None
        sources: dict[int, tuple[DynamicCache, int, int]] = {}  # id(cache) -> (cache, its first row, its length)
        rows = 0
        for sequence in sequences:
            cache = sequence.state.cache
            if id(cache) not in sources:
                keys = cache.layers[0].keys
                sources[id(cache)] = (cache, rows, keys.shape[2])
                rows += keys.shape[0]
        longest = max(length for _, _, length in sources.values())
        placed = [sources[id(s.state.cache)] for s in sequences]
        order = torch.tensor([first + s.state.row for s, (_, first, _) in zip(sequences, placed)], device=self.device)
        pads = [longest - length + s.state.pad for s, (_, _, length) in zip(sequences, placed)]
        trim = min(pads)  # positions that are padding in every row: cut, so the cache is as long as the longest
        self._pads = [pad - trim for pad in pads]

        def gathered(layer: int, part: str) -> torch.Tensor:
            tensors = [_shift(getattr(cache.layers[layer], part), longest - length - trim)
                       for cache, _, length in sources.values()]
            return (torch.cat(tensors) if len(tensors) > 1 else tensors[0]).index_select(0, order)

        layers = len(placed[0][0].layers)
        self._cache = DynamicCache(ddp_cache_data=[(gathered(i, "keys"), gathered(i, "values")) for i in range(layers)])
        self._mask = _mask(self._pads, longest - trim, self.device)
        self._batch = list(sequences)
        for sequence in sequences:
            sequence.state = BATCHED

    def pick(self, logits: torch.Tensor, sequences: list[Sequence]) -> list[Token]:
        """Each sequence's next token: greedy at temperature 0 (one argmax for all of them), else
        sampled (temperature, top-p, the sequence's own seeded generator); with its
        log-probability under the model, and the ``top_logprobs`` likeliest tokens', when the
        request asks."""
        logits = logits.float()
        greedy = torch.argmax(logits, dim=-1).tolist()
        picked = []
        for row, sequence in enumerate(sequences):
            sampling = sequence.sampling
            token = greedy[row] if sampling.greedy else _sample(logits[row], sampling,
                                                                   _generator(sequence, logits.device))
            picked.append(_with_logprobs(token, logits[row], sampling) if sampling.logprobs else Token(id=token))
        return picked


def _with_logprobs(token: int, logits: torch.Tensor, sampling: Sampling) -> Token:
    """``token`` with its log-probability and the ``top_logprobs`` likeliest tokens' (ids)."""
    logprobs = torch.log_softmax(logits, dim=-1)
    top = ()
    if sampling.top_logprobs:
        values, ids = torch.topk(logprobs, min(sampling.top_logprobs, logprobs.shape[-1]))
        top = tuple(zip(ids.tolist(), values.tolist()))
    return Token(id=token, logprob=float(logprobs[token]), top=top)


def _mask(pads: list[int], length: int, device: torch.device) -> torch.Tensor:
    """The attention mask of left-padded rows: 0 over each row's padding."""
    mask = torch.ones(len(pads), length, dtype=torch.long, device=device)
    for row, pad in enumerate(pads):
        mask[row, :pad] = 0
    return mask


def _shift(tensor: torch.Tensor, by: int) -> torch.Tensor:
    """``tensor`` ([rows, heads, length, dim]) with ``by`` zero positions put in front (``by`` > 0)
    or its first ``-by`` positions cut (``by`` < 0)."""
    if by > 0:
        return torch.nn.functional.pad(tensor, (0, 0, by, 0))
    return tensor[:, :, -by:] if by else tensor


def _generator(sequence: Sequence, device: torch.device) -> torch.Generator:
    """The sequence's random generator: from its seed (same seed, same tokens) or fresh."""
    if sequence.rng is None:
        sequence.rng = torch.Generator(device=device)
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
