"""Tiny randomly initialised diffusers pipelines, built offline and saved as a model folder.

Sized as diffusers' own fast tests size them (tests/pipelines/wan, tests/pipelines/ltx2); the parts
those tests fetch from the hub are built here instead: the tokenizer from the `tokenizers` package (a
word-level vocabulary wrapped in PreTrainedTokenizerFast) and the text encoder from a config.
"""

from __future__ import annotations

from pathlib import Path

import torch
from diffusers import (
    AutoencoderKLWan,
    UniPCMultistepScheduler,
    WanImageToVideoPipeline,
    WanTransformer3DModel,
)
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast, UMT5Config, UMT5EncoderModel

WORDS = ["<pad>", "</s>", "<unk>", "a", "the", "cat", "dance", "walks", "slowly", "camera", "red", "sky"]
TEXT_DIM = 32  # the text encoder's d_model == the transformer's text_dim


def word_tokenizer() -> PreTrainedTokenizerFast:
    backend = Tokenizer(models.WordLevel({word: i for i, word in enumerate(WORDS)}, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(
        tokenizer_object=backend, pad_token="<pad>", eos_token="</s>", unk_token="<unk>"
    )


def umt5_encoder() -> UMT5EncoderModel:
    config = UMT5Config(
        vocab_size=len(WORDS),
        d_model=TEXT_DIM,
        d_kv=8,
        d_ff=37,
        num_layers=2,
        num_heads=4,
        relative_attention_num_buckets=8,
    )
    return UMT5EncoderModel(config)


def wan_transformer(channels: tuple[int, int]) -> WanTransformer3DModel:
    return WanTransformer3DModel(
        patch_size=(1, 2, 2),
        num_attention_heads=2,
        attention_head_dim=12,
        in_channels=channels[0],
        out_channels=channels[1],
        text_dim=TEXT_DIM,
        freq_dim=256,
        ffn_dim=32,
        num_layers=2,
        cross_attn_norm=True,
        qk_norm="rms_norm_across_heads",
        rope_max_seq_len=32,
    )


def wan_scheduler() -> UniPCMultistepScheduler:
    return UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=3.0)


def build_wan_ti2v(path: Path) -> Path:
    """Wan 2.2 TI2V-5B's layout: a 48-channel VAE with 16x spatial compression, one transformer."""
    torch.manual_seed(0)
    vae = AutoencoderKLWan(
        base_dim=3,
        z_dim=48,
        in_channels=12,
        out_channels=12,
        is_residual=True,
        patch_size=2,
        latents_mean=[0.0] * 48,
        latents_std=[1.0] * 48,
        dim_mult=[1, 1, 1, 1],
        num_res_blocks=1,
        scale_factor_spatial=16,
        scale_factor_temporal=4,
        temperal_downsample=[False, True, True],
    )
    pipe = WanImageToVideoPipeline(
        transformer=wan_transformer((48, 48)),
        vae=vae,
        scheduler=wan_scheduler(),
        text_encoder=umt5_encoder(),
        tokenizer=word_tokenizer(),
        transformer_2=None,
        image_encoder=None,
        image_processor=None,
        boundary_ratio=None,
        expand_timesteps=True,
    )
    pipe.save_pretrained(path)
    return path


def build_wan_a14b(path: Path) -> Path:
    """Wan 2.2 I2V-A14B's layout: a 16-channel VAE, high- and low-noise transformers."""
    torch.manual_seed(0)
    vae = AutoencoderKLWan(
        base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1, temperal_downsample=[False, True, True]
    )
    pipe = WanImageToVideoPipeline(
        transformer=wan_transformer((36, 16)),
        transformer_2=wan_transformer((36, 16)),
        vae=vae,
        scheduler=wan_scheduler(),
        text_encoder=umt5_encoder(),
        tokenizer=word_tokenizer(),
        image_encoder=None,
        image_processor=None,
        boundary_ratio=0.875,
    )
    pipe.save_pretrained(path)
    return path
