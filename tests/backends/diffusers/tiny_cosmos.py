"""A tiny random-weight Cosmos Predict 2.5 pipeline, built here, so tests never touch the Hub.

The shapes follow the real model's structure at toy sizes: a 2-layer Cosmos transformer, a
small Wan VAE (8x spatial, 4x temporal, 16 latent channels like the real one), a 2-layer
Qwen2.5-VL text encoder whose concatenated hidden states (16 x 2 layers) match the
transformer's `text_embed_dim`, a byte-level Qwen2 tokenizer with a chat template, and the
flow-configured UniPC scheduler of diffusers' conversion script. A default UniPC scheduler
makes latents blow up and loses the conditioning frame, so the scheduler matters.

`save_tiny_pipeline(folder)` writes a folder that `synthcam run --backend diffusers
--backend-option model_dir=FOLDER` loads (the end-to-end test uses it); the backend passes
its own safety checker, since a saved folder records none.
"""

from __future__ import annotations

from pathlib import Path

SEED = 0
HIDDEN = 16
LAYERS = 2
LATENT_GAIN = 20.0
MAX_TOKENS = 64          # tokenizer length cap: prompts pad to the pipeline's max_sequence_length
SPECIAL = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")
CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}{{ part['text'] }}{% endfor %}{% endif %}"
    "<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte -> printable character table, which byte-level BPE vocabularies use."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    table, extra = {}, 0
    for b in range(256):
        if b in printable:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table


def tiny_tokenizer():
    """A byte-level Qwen2 tokenizer (256 byte tokens, no merges) with Qwen's chat markers."""
    from transformers import Qwen2Tokenizer

    vocab = {ch: i for i, ch in enumerate(_bytes_to_unicode().values())}
    tok = Qwen2Tokenizer(vocab=vocab, merges=[], model_max_length=MAX_TOKENS)
    tok.add_special_tokens({"additional_special_tokens": [s for s in SPECIAL if s not in tok.get_vocab()]})
    tok.chat_template = CHAT_TEMPLATE
    return tok


def tiny_text_encoder(tokenizer):
    import torch
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    torch.manual_seed(SEED)
    vocab_size = len(tokenizer)
    ids = {"bos_token_id": None, "eos_token_id": tokenizer.convert_tokens_to_ids("<|im_end|>"),
           "pad_token_id": tokenizer.pad_token_id}
    config = Qwen2_5_VLConfig(
        text_config={
            "hidden_size": HIDDEN, "intermediate_size": HIDDEN, "num_hidden_layers": LAYERS,
            "num_attention_heads": 2, "num_key_value_heads": 2, "vocab_size": vocab_size, **ids,
            "rope_parameters": {"rope_type": "default", "mrope_section": [1, 1, 2], "rope_theta": 1e6},
        },
        vision_config={"depth": 1, "hidden_size": HIDDEN, "intermediate_size": HIDDEN, "num_heads": 2,
                       "out_hidden_size": HIDDEN},
        vocab_size=vocab_size, **ids,
    )
    return Qwen2_5_VLForConditionalGeneration(config).eval()


def tiny_transformer():
    import torch
    from diffusers import CosmosTransformer3DModel

    torch.manual_seed(SEED)
    return CosmosTransformer3DModel(
        in_channels=16 + 1, out_channels=16, num_attention_heads=2, attention_head_dim=16, num_layers=2,
        mlp_ratio=2, text_embed_dim=HIDDEN * LAYERS, adaln_lora_dim=4, max_size=(32, 32, 32),
        patch_size=(1, 2, 2), rope_scale=(2.0, 1.0, 1.0), concat_padding_mask=True,
        extra_pos_embed_type="learnable",
    ).eval()


def tiny_vae():
    """A small Wan VAE whose biases are zero: with random biases its output barely depends on
    its input (every picture decodes to nearly the same grey), which would make conditioning
    untestable; without them, different frames stay different through encode and decode."""
    import torch
    from diffusers import AutoencoderKLWan

    torch.manual_seed(SEED)
    vae = AutoencoderKLWan(base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
                           temperal_downsample=[False, True, True]).eval()
    with torch.no_grad():
        for name, param in vae.named_parameters():
            if name.endswith("bias"):
                param.zero_()
        # Latents of about unit size, as the real VAE's are: the pipeline's conditioning keeps a
        # latent to about 0.015 (normalised), which must be small against the picture it carries.
        vae.quant_conv.weight.mul_(LATENT_GAIN)
        vae.post_quant_conv.weight.div_(LATENT_GAIN)
    return vae


def flow_scheduler():
    """The scheduler of diffusers' convert_cosmos_to_diffusers.py for Predict 2.5."""
    from diffusers import UniPCMultistepScheduler

    return UniPCMultistepScheduler(use_karras_sigmas=True, use_flow_sigmas=True, prediction_type="flow_prediction",
                                   sigma_max=200.0, sigma_min=0.01)


def tiny_components() -> dict:
    tokenizer = tiny_tokenizer()
    return {
        "text_encoder": tiny_text_encoder(tokenizer),
        "tokenizer": tokenizer,
        "transformer": tiny_transformer(),
        "vae": tiny_vae(),
        "scheduler": flow_scheduler(),
    }


def tiny_pipeline(safety_checker=None):
    """The real `Cosmos2_5_PredictBasePipeline` on tiny components (CPU, float32)."""
    from diffusers import Cosmos2_5_PredictBasePipeline

    from synthcam.backends.diffusers.guardrails import pass_through_checker

    pipe = Cosmos2_5_PredictBasePipeline(**tiny_components(), safety_checker=safety_checker or pass_through_checker())
    pipe.set_progress_bar_config(disable=True)
    return pipe


def save_tiny_pipeline(folder: str | Path) -> Path:
    """Write a tiny pipeline folder as `save_pretrained` lays it out (model_index.json + components)."""
    folder = Path(folder)
    pipe = tiny_pipeline()
    pipe.register_modules(safety_checker=None)  # as the published folders: no checker recorded
    pipe.save_pretrained(folder, safe_serialization=True)
    return folder
