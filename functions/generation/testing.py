"""A tiny causal LM built offline, to test a text-generation function without downloading one:
a 2-layer Llama with random weights from a fixed seed and a byte-level BPE tokenizer (with a chat
template) trained by ``tokenizers`` on a text written here. kfunc's own tests and generation
benchmark use it, and so do the tests of ``kfunc new --template text-generation``.

    from functions.generation.testing import tiny_causal_lm
    model_dir = tiny_causal_lm(tmp_path / "model")   # what save_pretrained writes
"""
from __future__ import annotations

from pathlib import Path

TEXT = ("the quick brown fox jumps over the lazy dog. a small model writes small words. "
        "serving tokens one by one, the server streams them as they come. ") * 20
CHAT_TEMPLATE = ("{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}\n{% endfor %}"
                 "{% if add_generation_prompt %}<|assistant|>{% endif %}")
SEED = 1234


def tiny_causal_lm(directory: Path) -> Path:
    """Write the model and its tokenizer to ``directory`` (as ``save_pretrained`` does)."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    directory.mkdir(parents=True, exist_ok=True)
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=["<s>", "</s>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    bpe.train_from_iterator([TEXT], trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, bos_token="<s>", eos_token="</s>")
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.save_pretrained(directory)
    torch.manual_seed(SEED)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=4096,
                         bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id)
    LlamaForCausalLM(config).eval().save_pretrained(directory)
    return directory
