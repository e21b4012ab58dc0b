"""Tiny randomly initialised diffusers pipelines, built offline and saved as a model folder.

Sized as diffusers' own fast tests size them (tests/pipelines/wan, tests/pipelines/ltx2); the parts
those tests fetch from the hub are built here instead: the tokenizer from the `tokenizers` package (a
word-level vocabulary wrapped in PreTrainedTokenizerFast) and the text encoder from a config.
"""

from __future__ import annotations

from pathlib import Path

import torch
from diffusers import (
    AutoencoderKLLTX2Audio,
    AutoencoderKLLTX2Video,
    AutoencoderKLWan,
    FlowMatchEulerDiscreteScheduler,
    LTX2ConditionPipeline,
    LTX2VideoTransformer3DModel,
    UniPCMultistepScheduler,
    WanImageToVideoPipeline,
    WanTransformer3DModel,
)
from diffusers.pipelines.ltx2 import LTX2TextConnectors
from diffusers.pipelines.ltx2.vocoder import LTX2Vocoder
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import (
    Gemma3Config,
    Gemma3ForConditionalGeneration,
    Gemma3TextConfig,
    PreTrainedTokenizerFast,
    SiglipVisionConfig,
    UMT5Config,
    UMT5EncoderModel,
)

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


def tiny_gemma3() -> Gemma3ForConditionalGeneration:
    """LTX-2's text encoder, tiny: hidden size 32 (what the connectors' 4 heads x 8 expect)."""
    text = Gemma3TextConfig(
        vocab_size=len(WORDS),
        hidden_size=32,
        intermediate_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=1,
        head_dim=8,
        max_position_embeddings=2048,
        sliding_window=64,
        pad_token_id=0,
        eos_token_id=1,
        bos_token_id=1,
    )
    vision = SiglipVisionConfig(
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        image_size=28,
        patch_size=14,
    )
    config = Gemma3Config(
        text_config=text,
        vision_config=vision,
        mm_tokens_per_image=4,
        image_token_index=3,
        boi_token_index=4,
        eoi_token_index=5,
    )
    return Gemma3ForConditionalGeneration(config)


def build_ltx2(path: Path) -> Path:
    """LTX-2's layout, with a VAE that compresses 16x in space and 4x in time (LTX-2's: 32x, 8x), so
    that a 64x32 video is a handful of tokens."""
    torch.manual_seed(0)
    text_encoder = tiny_gemma3()
    hidden = text_encoder.config.text_config.hidden_size
    transformer = LTX2VideoTransformer3DModel(
        in_channels=4,
        out_channels=4,
        patch_size=1,
        patch_size_t=1,
        num_attention_heads=2,
        attention_head_dim=8,
        cross_attention_dim=16,
        audio_in_channels=4,
        audio_out_channels=4,
        audio_num_attention_heads=2,
        audio_attention_head_dim=4,
        audio_cross_attention_dim=8,
        num_layers=2,
        qk_norm="rms_norm_across_heads",
        caption_channels=hidden,
        rope_double_precision=False,
        rope_type="split",
    )
    connectors = LTX2TextConnectors(
        caption_channels=hidden,
        text_proj_in_factor=text_encoder.config.text_config.num_hidden_layers + 1,
        video_connector_num_attention_heads=4,
        video_connector_attention_head_dim=8,
        video_connector_num_layers=1,
        video_connector_num_learnable_registers=None,
        audio_connector_num_attention_heads=4,
        audio_connector_attention_head_dim=8,
        audio_connector_num_layers=1,
        audio_connector_num_learnable_registers=None,
        connector_rope_base_seq_len=32,
        rope_theta=10000.0,
        rope_double_precision=False,
        causal_temporal_positioning=False,
        rope_type="split",
    )
    vae = AutoencoderKLLTX2Video(
        in_channels=3,
        out_channels=3,
        latent_channels=4,
        block_out_channels=(8, 8),
        down_block_types=("LTX2VideoDownBlock3D",) * 2,
        decoder_block_out_channels=(8, 8),
        layers_per_block=(1, 1, 1),
        decoder_layers_per_block=(1, 1, 1),
        spatio_temporal_scaling=(True, True),
        decoder_spatio_temporal_scaling=(True, True),
        decoder_inject_noise=(False, False, False),
        downsample_type=("spatiotemporal", "spatiotemporal"),
        upsample_type=("spatiotemporal", "spatiotemporal"),
        upsample_residual=(False, False),
        upsample_factor=(1, 1),
        timestep_conditioning=False,
        patch_size=4,
        patch_size_t=1,
        encoder_causal=True,
        decoder_causal=False,
    )
    audio_vae = AutoencoderKLLTX2Audio(
        base_channels=4,
        output_channels=2,
        ch_mult=(1,),
        num_res_blocks=1,
        attn_resolutions=None,
        in_channels=2,
        resolution=32,
        latent_channels=2,
        norm_type="pixel",
        causality_axis="height",
        dropout=0.0,
        mid_block_add_attention=False,
        sample_rate=16000,
        mel_hop_length=160,
        is_causal=True,
        mel_bins=8,
    )
    vocoder = LTX2Vocoder(
        in_channels=audio_vae.config.output_channels * audio_vae.config.mel_bins,
        hidden_channels=32,
        out_channels=2,
        upsample_kernel_sizes=[4, 4],
        upsample_factors=[2, 2],
        resnet_kernel_sizes=[3],
        resnet_dilations=[[1, 3, 5]],
        leaky_relu_negative_slope=0.1,
        output_sampling_rate=16000,
    )
    pipe = LTX2ConditionPipeline(
        transformer=transformer,
        vae=vae,
        audio_vae=audio_vae,
        scheduler=FlowMatchEulerDiscreteScheduler(),
        text_encoder=text_encoder,
        tokenizer=word_tokenizer(),
        connectors=connectors,
        vocoder=vocoder,
    )
    pipe.save_pretrained(path)
    return path


def build_wan_lora(folder: Path, path: Path, subfolder: str = "transformer", name: str | None = None) -> Path:
    """A random LoRA for a transformer in `folder`, saved as diffusers saves LoRAs: what a
    distilled (few-step) LoRA file looks like."""
    from peft import LoraConfig, get_peft_model_state_dict

    torch.manual_seed(1)
    transformer = WanTransformer3DModel.from_pretrained(folder, subfolder=subfolder)
    config = LoraConfig(r=2, lora_alpha=2, target_modules=["to_q", "to_k", "to_v"], init_lora_weights=False)
    transformer.add_adapter(config)
    layers = get_peft_model_state_dict(transformer)
    weight_name = name or "pytorch_lora_weights.safetensors"
    WanImageToVideoPipeline.save_lora_weights(path, transformer_lora_layers=layers, weight_name=weight_name)
    return path / weight_name
