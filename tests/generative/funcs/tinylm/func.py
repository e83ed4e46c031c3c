"""The test LM behind the OpenAI routes: continuous batching through functions.generation.CausalLM."""
from functions import generator, load
from functions.generation import CausalLM


@load
def setup(model_dir):
    return CausalLM.from_pretrained(model_dir, max_running=8, max_queued=4)


@generator(tokenizer=lambda model: model.tokenizer)
def generate(model, prompt, context):
    return model.stream(prompt, context.sampling)
