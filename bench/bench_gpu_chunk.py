"""What one Cosmos Predict 2.5 chunk costs through diffusers, with nothing downloaded.

On a GPU it builds the full-size transformer (2B, and 14B with --models 2B,14B), the Wan 2.1
VAE and a full-size Cosmos-Reason1 (Qwen2.5-VL 7B) text encoder with random weights, from the
configurations in diffusers' scripts/convert_cosmos_to_diffusers.py, and times the real
`Cosmos2_5_PredictBasePipeline` at 704x1280, 93 frames:

- seconds per denoising step (two transformer passes: guidance on), from step callbacks;
- the set-up before the first step (prompt encoding when not cached, latent preparation);
- the VAE decode; peak GPU memory;
- with the prompt cache (embeddings given, text encoder moved to the CPU: what the backend
  does) and without it (prompt strings, text encoder on the GPU: what the native CLI does),
  side by side in one run, at batch 1, 2 and 4.

A chunk's cost is extrapolated from --steps measured steps to --chunk-steps (35, the
manifest default): set-up + steps x s/step + decode. Random weights compute the same shapes
as the published ones, so timings and memory carry over; pixels do not matter here.
It prints a markdown table and cost-table rows (src/synthcam/data/costs.yaml's format).

    python bench/bench_gpu_chunk.py                           # GPU: 2B, batch 1,2,4
    python bench/bench_gpu_chunk.py --models 2B,14B --steps 3
    python bench/bench_gpu_chunk.py --tiny                    # CPU smoke: tiny random model, 32x32

Without CUDA it runs the tiny smoke version (the tests' tiny components), which checks the
script, not costs.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import platform
import resource
import statistics
import sys
import time
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the tiny components (smoke) and the byte-level tokenizer

# diffusers scripts/convert_cosmos_to_diffusers.py, TRANSFORMER_CONFIGS["Cosmos-2.5-Predict-Base-2B" / "-14B"]
TRANSFORMERS = {
    "2B": dict(in_channels=17, out_channels=16, num_attention_heads=16, attention_head_dim=128, num_layers=28,
               mlp_ratio=4.0, text_embed_dim=1024, adaln_lora_dim=256, max_size=(128, 240, 240), patch_size=(1, 2, 2),
               rope_scale=(1.0, 3.0, 3.0), concat_padding_mask=True, extra_pos_embed_type=None,
               use_crossattn_projection=True, crossattn_proj_in_channels=100352, encoder_hidden_states_channels=1024),
}
TRANSFORMERS["14B"] = {**TRANSFORMERS["2B"], "num_attention_heads": 40, "num_layers": 36}
MODEL_NAMES = {"2B": "2B/post-trained", "14B": "14B/post-trained"}
# Cosmos-Reason1-7B = Qwen2.5-VL-7B: 28 layers x 3584 = 100,352 = crossattn_proj_in_channels above.
TEXT_7B = dict(hidden_size=3584, intermediate_size=18944, num_hidden_layers=28, num_attention_heads=28,
               num_key_value_heads=4, vocab_size=152064, max_position_embeddings=128000,
               rope_parameters={"rope_type": "default", "mrope_section": [16, 24, 24], "rope_theta": 1e6})
VISION_7B = dict(depth=32, hidden_size=1280, intermediate_size=3420, num_heads=16, out_hidden_size=3584,
                 fullatt_block_indexes=[7, 15, 23, 31])
PROMPT = ("A fixed security camera above a front door looks down at the porch at dusk; a courier in a blue "
          "polo walks up the steps, sets a parcel on the mat and walks back to the street.")
NEGATIVE = "blurry, distorted, visible camera housing, slow motion, time lapse"
GPU_KEYS = ("h100", "h200", "b200", "a100", "l40s")


def _sync(torch) -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def build_full(torch, size: str, text_encoder: bool, device: str = "cuda"):
    """The pipeline at full size with random weights, built on the GPU in bfloat16.

    Without the text encoder (--no-text-encoder) the runs use random prompt embeddings of
    the real width (28 layers x 3584), so only the cached rows exist.
    """
    from diffusers import AutoencoderKLWan, Cosmos2_5_PredictBasePipeline, CosmosTransformer3DModel
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    from backends.diffusers.tiny_cosmos import flow_scheduler, tiny_tokenizer
    from synthcam.backends.diffusers import compat, guardrails

    compat.install_resize_fallback()
    torch.manual_seed(0)
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.bfloat16)
    try:
        with torch.device(device):
            transformer = CosmosTransformer3DModel(**TRANSFORMERS[size]).eval()
            vae = AutoencoderKLWan().eval()  # the defaults are Wan 2.1's VAE, which Predict 2.5 uses
            encoder = None
            if text_encoder:
                config = Qwen2_5_VLConfig(text_config=TEXT_7B, vision_config=VISION_7B, vocab_size=TEXT_7B["vocab_size"])
                encoder = Qwen2_5_VLForConditionalGeneration(config).eval()
    finally:
        torch.set_default_dtype(previous)
    tokenizer = tiny_tokenizer()  # tokenising is not what costs: prompts pad to 512 tokens either way
    pipe = Cosmos2_5_PredictBasePipeline(text_encoder=encoder, tokenizer=tokenizer, transformer=transformer, vae=vae,
                                         scheduler=flow_scheduler(), safety_checker=guardrails.pass_through_checker())
    pipe.safety_checker.to(device)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def build_tiny(torch):
    from backends.diffusers.tiny_cosmos import tiny_pipeline
    from synthcam.backends.diffusers import compat

    compat.install_resize_fallback()
    return tiny_pipeline()


def run_once(torch, pipe, *, batch: int, steps: int, cached: bool, embeds, height: int, width: int,
             frames: int, device: str) -> dict:
    marks: list[float] = []

    def on_step(p, i, t, tensors):
        _sync(torch)
        marks.append(time.perf_counter())
        return {}

    if device == "cuda":
        if pipe.text_encoder is not None:
            pipe.text_encoder.to("cpu" if cached else "cuda")
        gc.collect()
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    kwargs = dict(height=height, width=width, num_frames=frames, num_inference_steps=steps, guidance_scale=6.0,
                  output_type="pt", callback_on_step_end=on_step,
                  generator=[torch.Generator().manual_seed(i) for i in range(batch)])
    if cached:
        kwargs.update(prompt_embeds=embeds[0].repeat(batch, 1, 1).to(device),
                      negative_prompt_embeds=embeds[1].repeat(batch, 1, 1).to(device))
    else:
        kwargs.update(prompt=[PROMPT] * batch, negative_prompt=[NEGATIVE] * batch)
    _sync(torch)
    start = time.perf_counter()
    try:
        pipe(**kwargs)
    except torch.OutOfMemoryError:
        return {"oom": True}
    _sync(torch)
    end = time.perf_counter()
    per_step = statistics.median(b - a for a, b in zip(marks, marks[1:], strict=False)) if len(marks) > 1 else marks[0] - start
    peak = (torch.cuda.max_memory_allocated() if device == "cuda"
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    return {"oom": False, "per_step": per_step, "prep": marks[0] - start - per_step, "decode": end - marks[-1],
            "peak_gb": peak / 2**30}


def prompt_embeddings(torch, pipe, device: str) -> tuple[float, list]:
    """(seconds to encode prompt + negative prompt, [prompt, negative] embeddings on the CPU)."""
    if pipe.text_encoder is None:
        width = TEXT_7B["hidden_size"] * TEXT_7B["num_hidden_layers"]
        return float("nan"), [torch.randn(1, 512, width, dtype=torch.bfloat16) for _ in range(2)]
    pipe.text_encoder.to(device)
    _sync(torch)
    start = time.perf_counter()
    with torch.no_grad():
        positive, negative = pipe.encode_prompt(PROMPT, NEGATIVE, device=device, max_sequence_length=512)
    _sync(torch)
    return time.perf_counter() - start, [positive.cpu(), negative.cpu()]


def main() -> int:
    import torch

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="2B", help="2B, 14B or 2B,14B (GPU)")
    ap.add_argument("--batches", default="1,2,4")
    ap.add_argument("--steps", type=int, default=3, help="denoising steps measured per run (>= 2)")
    ap.add_argument("--chunk-steps", type=int, default=35, help="steps a chunk takes (the manifest's num_steps)")
    ap.add_argument("--no-text-encoder", action="store_true", help="random embeddings instead (less memory; no uncached rows)")
    ap.add_argument("--vae-tiling", action="store_true")
    ap.add_argument("--tiny", action="store_true", help="the CPU smoke version (default without CUDA)")
    args = ap.parse_args()
    tiny = args.tiny or not torch.cuda.is_available()
    device = "cpu" if tiny else "cuda"
    if tiny:
        torch.set_num_threads(1)
    height, width, frames = (32, 32, 93) if tiny else (704, 1280, 93)
    steps = 2 if tiny else max(2, args.steps)
    gpu = f"CPU ({platform.machine()})" if tiny else torch.cuda.get_device_name(0)
    key = next((k for k in GPU_KEYS if k in gpu.lower()), gpu.lower().replace(" ", "_"))
    stamp = datetime.date.today().isoformat()
    soft = (f"torch {torch.__version__}, diffusers {version('diffusers')}, transformers {version('transformers')}, "
            f"CUDA {torch.version.cuda or '-'}")
    print(f"# bench_gpu_chunk {stamp} on {gpu}; {soft}; {width}x{height}, {frames} frames, "
          f"{steps} steps measured, chunk = {args.chunk_steps} steps{' (TINY SMOKE: not costs)' if tiny else ''}")
    rows = []
    for size in (["tiny"] if tiny else args.models.split(",")):
        started = time.perf_counter()
        pipe = build_tiny(torch) if tiny else build_full(torch, size, not args.no_text_encoder)
        if args.vae_tiling:
            pipe.vae.enable_tiling()
        if not tiny:
            pipe.transformer.to(device)
            pipe.vae.to(device)
        print(f"# built {size} in {time.perf_counter() - started:.1f} s")
        encode, embeds = prompt_embeddings(torch, pipe, device)
        print(f"# prompt + negative prompt encoded in {encode:.2f} s")
        for batch in map(int, args.batches.split(",")):
            for cached in (True, False) if pipe.text_encoder is not None else (True,):
                r = run_once(torch, pipe, batch=batch, steps=steps, cached=cached, embeds=embeds, height=height,
                             width=width, frames=frames, device=device)
                rows.append({"model": size, "batch": batch, "cached": cached, "encode": encode, **r})
                print(_row(rows[-1], args.chunk_steps), flush=True)
        del pipe, embeds
        gc.collect()
        if not tiny:
            torch.cuda.empty_cache()
    print()
    print("| model | batch | prompt cache | s/step | set-up s | decode s | chunk s | chunk s per clip | peak GB |")
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(_row(r, args.chunk_steps))
    if not tiny:
        print(_cost_rows(rows, args.chunk_steps, key, gpu, stamp, soft))
    return 0


def _chunk(r: dict, chunk_steps: int) -> float:
    return r["prep"] + chunk_steps * r["per_step"] + r["decode"]


def _row(r: dict, chunk_steps: int) -> str:
    cache = "on" if r["cached"] else "off"
    if r["oom"]:
        return f"| {r['model']} | {r['batch']} | {cache} | out of memory | | | | | |"
    chunk = _chunk(r, chunk_steps)
    return (f"| {r['model']} | {r['batch']} | {cache} | {r['per_step']:.3f} | {r['prep']:.2f} | {r['decode']:.2f} | "
            f"{chunk:.1f} | {chunk / r['batch']:.1f} | {r['peak_gb']:.1f} |")


def _cost_rows(rows: list[dict], chunk_steps: int, key: str, gpu: str, stamp: str, soft: str) -> str:
    """Rows for costs.yaml: the best per-clip chunk time with the cache, and its peak memory."""
    out = ["", "# cost-table rows (diffusers backend; merge by hand into src/synthcam/data/costs.yaml)"]
    for model in dict.fromkeys(r["model"] for r in rows):
        ok = [r for r in rows if r["model"] == model and r["cached"] and not r["oom"]]
        if not ok:
            continue
        best = min(ok, key=lambda r: _chunk(r, chunk_steps) / r["batch"])
        seconds = _chunk(best, chunk_steps) / best["batch"]
        out += ["chunk_seconds:", f"  {MODEL_NAMES[model]}:", f"    {key}:", f"      seconds: {round(seconds)}",
                f"      source: \"measured {stamp} on {gpu} (bench/bench_gpu_chunk.py, diffusers backend, random "
                f"weights, 704x1280x93): {best['prep']:.1f} s set-up + {chunk_steps} x {best['per_step']:.2f} s/step "
                f"+ {best['decode']:.1f} s decode, batch {best['batch']}, prompt cache on, per clip; {soft}\"",
                f"# peak memory at batch {best['batch']}: {best['peak_gb']:.1f} GB (text encoder off the GPU)"]
    return "\n".join(out)


if __name__ == "__main__":
    sys.exit(main())
