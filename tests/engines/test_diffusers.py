"""The diffusers engine on tiny random Wan pipelines, on the CPU: real folders loaded through the
engine's own loading code, real RenderJobs, real MP4s checked with PyAV."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest

pytest.importorskip("diffusers", reason="the diffusers extra is not installed")

import torch

from engines.diffusers_models import build_wan_lora
from vidgate.engines import SPECS
from vidgate.engines.base import RenderCancelled, RenderError, RenderJob
from vidgate.engines.diffusers import common
from vidgate.errors import InvalidRequestBody
from vidgate.settings import Settings
from vidgate.tasks.model import TaskParams

SPEC = SPECS["diffusers"]


def engine_settings(folder: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "diffusers_model_path": folder,
        "diffusers_generation_short_side": 32,  # tiny: the contract's size comes from resizing
        "diffusers_steps": 2,
        "diffusers_device": "cpu",
    }
    values.update(overrides)
    return Settings(**values, _env_file=None)  # type: ignore[arg-type, call-arg]


def photo(width: int = 320, height: int = 180, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (height, width, 3), dtype=np.uint8)


def job(
    tmp_path: Path, images: list[np.ndarray] | None = None, seed: int = 7, name: str = "out.mp4"
) -> RenderJob:
    return RenderJob(
        images=images or [photo()],
        prompt="a cat walks slowly",
        duration=1,
        short_side=540,
        movement_amplitude="auto",
        seed=seed,
        output_path=tmp_path / name,
        quality="fast",
    )


def probe(path: Path) -> tuple[int, int, int, float]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        return stream.codec_context.width, stream.codec_context.height, frames, float(stream.average_rate)


def never() -> bool:
    return False


def test_ti2v_renders_the_contracts_frames_and_size(wan_ti2v_folder: Path, tmp_path: Path) -> None:
    engine = SPEC.load(engine_settings(wan_ti2v_folder))
    progress: list[float] = []
    result = engine.render(job(tmp_path), progress.append, never)

    assert probe(result.path) == (960, 540, 24, 24.0)
    assert (result.width, result.height, result.frames) == (960, 540, 24)
    assert result.info["family"] == "wan-ti2v-5b"
    assert result.info["generation_size"] == "64x32"
    assert result.info["generated_frames"] == 25 and result.info["steps"] == 2
    assert progress == sorted(progress) and progress[-1] == 1.0
    assert progress[0] == pytest.approx(common.DENOISED_AT / 2), "one report per denoising step first"


def test_same_seed_same_bytes_and_the_pipeline_stays_loaded(wan_ti2v_folder: Path, tmp_path: Path) -> None:
    engine = SPEC.load(engine_settings(wan_ti2v_folder))
    pipe = engine.pipe  # type: ignore[attr-defined]
    first = engine.render(job(tmp_path, name="a.mp4"), lambda _: None, never).path.read_bytes()
    second = engine.render(job(tmp_path, name="b.mp4"), lambda _: None, never).path.read_bytes()
    other = engine.render(job(tmp_path, seed=8, name="c.mp4"), lambda _: None, never).path.read_bytes()
    assert first == second
    assert other != first
    assert engine.pipe is pipe  # type: ignore[attr-defined]


def test_cancel_stops_within_one_denoising_step(wan_ti2v_folder: Path, tmp_path: Path) -> None:
    engine = SPEC.load(engine_settings(wan_ti2v_folder, diffusers_steps=6))
    progress: list[float] = []
    with pytest.raises(RenderCancelled) as caught:
        engine.render(job(tmp_path), progress.append, lambda: bool(progress))
    assert caught.value.info["cancelled_at_step"] == 2, "asked after step 1, stopped at the end of step 2"
    assert len(progress) == 1
    assert list(tmp_path.iterdir()) == [], "no file, not even a partial one"


def test_out_of_memory_fails_the_task_and_the_engine_serves_the_next(
    wan_ti2v_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = SPEC.load(engine_settings(wan_ti2v_folder))
    vae = engine.pipe.vae  # type: ignore[attr-defined]

    def out_of_memory(*args: object, **kwargs: object) -> None:
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")

    monkeypatch.setattr(vae, "decode", out_of_memory)
    with pytest.raises(RenderError) as caught:
        engine.render(job(tmp_path), lambda _: None, never)
    assert caught.value.reason == "GPU_OUT_OF_MEMORY"
    assert "64x32, 25 frames" in caught.value.message
    assert "VIDGATE_DIFFUSERS_GENERATION_SHORT_SIDE" in caught.value.message

    monkeypatch.undo()
    result = engine.render(job(tmp_path), lambda _: None, never)
    assert probe(result.path)[2] == 24


def test_a14b_first_and_last_frame_retimed_from_16_fps(wan_a14b_folder: Path, tmp_path: Path) -> None:
    engine = SPEC.load(engine_settings(wan_a14b_folder))
    images = [photo(240, 180, seed=1), photo(240, 180, seed=2)]
    filtered: list[tuple[int, ...]] = []

    def mark(frame: np.ndarray) -> np.ndarray:  # stands for the watermark
        filtered.append(frame.shape)
        return frame

    soundtrack = np.zeros((48_000, 2), np.float32)  # the shared soundtrack of a Wan task
    task = RenderJob(**{**job(tmp_path, images=images).__dict__, "audio": soundtrack, "frame_filter": mark})
    result = engine.render(task, lambda _: None, never)
    assert probe(result.path) == (720, 540, 24, 24.0)
    assert filtered == [(540, 720, 3)] * 24
    with av.open(str(result.path)) as container:
        assert len(container.streams.audio) == 1, "the job's soundtrack is encoded"
    assert result.info["family"] == "wan-a14b"
    assert result.info["generated_frames"] == 17 and result.info["retimed"] is True
    assert result.info["last_image"] is True
    assert result.info["generation_size"] == "48x32", "A14B sizes are multiples of 16"


def test_levers_that_run_on_the_cpu_are_applied_and_gpu_only_ones_skipped(
    wan_ti2v_folder: Path, tmp_path: Path
) -> None:
    settings = engine_settings(
        wan_ti2v_folder,
        diffusers_fp8=True,
        diffusers_vae_tiling=True,
        diffusers_cache="first_block",
        diffusers_attention_backend="native",
        diffusers_offload="model",
    )
    engine = SPEC.load(settings)
    assert engine.levers == {  # type: ignore[attr-defined]
        "fp8": "on",
        "attention_backend": "native",
        "cache": "first_block",
        "vae_tiling": "on",
        "offload": "skipped: needs a GPU",
    }
    block = engine.pipe.transformer.blocks[0]  # type: ignore[attr-defined]
    assert block.attn1.to_q.weight.dtype == torch.float8_e4m3fn
    result = engine.render(job(tmp_path), lambda _: None, never)
    assert probe(result.path)[2] == 24
    assert result.info["levers"]["cache"] == "first_block"  # type: ignore[index]


# torch._dynamo, imported by the first compile, still uses torch.jit.script_method itself.
@pytest.mark.filterwarnings("ignore:`torch.jit.script_method` is deprecated:DeprecationWarning")
def test_compile_wraps_the_repeated_blocks(wan_ti2v_folder: Path) -> None:
    engine = SPEC.load(engine_settings(wan_ti2v_folder, diffusers_compile=True))
    assert engine.levers == {"compile": "repeated blocks"}  # type: ignore[attr-defined]
    blocks = engine.pipe.transformer.blocks  # type: ignore[attr-defined]
    assert all(block._compiled_call_impl is not None for block in blocks)


def test_missing_or_incomplete_folders_are_named(wan_ti2v_folder: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="VIDGATE_DIFFUSERS_MODEL_PATH is required"):
        SPEC.check_settings(Settings(_env_file=None))  # type: ignore[call-arg, misc]
    with pytest.raises(ValueError, match=r"model folder .*nowhere does not exist"):
        SPEC.check_settings(engine_settings(tmp_path / "nowhere"))  # type: ignore[misc]

    broken = shutil.copytree(wan_ti2v_folder, tmp_path / "broken")
    (broken / "transformer" / "diffusion_pytorch_model.safetensors").unlink()
    shutil.rmtree(broken / "tokenizer")
    with pytest.raises(ValueError, match=r"incomplete: missing tokenizer/, transformer/ weights"):
        SPEC.check_settings(engine_settings(broken))  # type: ignore[misc]
    with pytest.raises(ValueError, match="incomplete"):
        SPEC.load(engine_settings(broken))

    (broken / "model_index.json").unlink()
    with pytest.raises(ValueError, match=r"missing .*model_index.json"):
        SPEC.check_settings(engine_settings(broken))  # type: ignore[misc]


def test_fast_preset_fuses_its_lora_and_takes_few_steps(wan_ti2v_folder: Path, tmp_path: Path) -> None:
    lora = build_wan_lora(wan_ti2v_folder, tmp_path / "lora")
    plain = SPEC.load(engine_settings(wan_ti2v_folder))
    fast = SPEC.load(
        engine_settings(wan_ti2v_folder, diffusers_preset="fast", diffusers_fast_lora=lora, diffusers_steps=0)
    )
    assert fast.levers == {"fast_lora": "pytorch_lora_weights.safetensors"}  # type: ignore[attr-defined]
    fused = fast.pipe.transformer.blocks[0].attn1.to_q  # type: ignore[attr-defined]
    base = plain.pipe.transformer.blocks[0].attn1.to_q  # type: ignore[attr-defined]
    assert isinstance(fused, torch.nn.Linear), "fused into the weights: no peft layer left"
    assert not torch.equal(fused.weight, base.weight)
    result = fast.render(job(tmp_path), lambda _: None, never)
    assert (result.info["steps"], result.info["guidance"]) == (4, 1.0)
    assert probe(result.path)[2] == 24


def test_fast_preset_loads_one_lora_per_a14b_expert(wan_a14b_folder: Path, tmp_path: Path) -> None:
    loras = tmp_path / "lightning"
    build_wan_lora(wan_a14b_folder, loras, "transformer", "high_noise_model.safetensors")
    build_wan_lora(wan_a14b_folder, loras, "transformer_2", "low_noise_model.safetensors")
    plain = SPEC.load(engine_settings(wan_a14b_folder))
    fast = SPEC.load(engine_settings(wan_a14b_folder, diffusers_preset="fast", diffusers_fast_lora=loras))
    for name in ("transformer", "transformer_2"):
        fused = getattr(fast.pipe, name).blocks[0].attn1.to_q  # type: ignore[attr-defined]
        base = getattr(plain.pipe, name).blocks[0].attn1.to_q  # type: ignore[attr-defined]
        assert isinstance(fused, torch.nn.Linear) and not torch.equal(fused.weight, base.weight), name


def test_fast_preset_needs_its_lora(wan_ti2v_folder: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="VIDGATE_DIFFUSERS_FAST_LORA"):
        SPEC.check_settings(engine_settings(wan_ti2v_folder, diffusers_preset="fast"))  # type: ignore[misc]
    with pytest.raises(ValueError, match="does not exist"):
        SPEC.check_settings(  # type: ignore[misc]
            engine_settings(wan_ti2v_folder, diffusers_preset="fast", diffusers_fast_lora=tmp_path / "x")
        )


def test_limits_per_family_read_only_json(wan_ti2v_folder: Path, wan_a14b_folder: Path) -> None:
    """The API process calls the limits: they must come from the folder without importing torch."""
    script = (
        "import sys; from vidgate.engines import SPECS; from vidgate.settings import Settings\n"
        f"for path in ({str(wan_ti2v_folder)!r}, {str(wan_a14b_folder)!r}):\n"
        "    limits = SPECS['diffusers'].limits(Settings(diffusers_model_path=path, _env_file=None))\n"
        "    print(limits.durations[-1], limits.max_images)\n"
        "print('torch' in sys.modules, 'diffusers' in sys.modules)\n"
    )
    output = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert output.split("\n")[:3] == ["5 1", "5 2", "False False"]


def test_ltx2_family_limits_without_a_folder() -> None:
    limits = SPEC.limits(Settings(diffusers_family="ltx-2", _env_file=None))  # type: ignore[call-arg]
    assert limits.durations == tuple(range(1, 11))
    assert limits.max_images is None and limits.renders_itself == frozenset({"audio"})


def test_ltx2_keyframes_and_its_own_sound(ltx2_folder: Path, tmp_path: Path) -> None:
    # Guidance 1: one transformer pass per step (what the fast preset runs), to keep the test quick.
    engine = SPEC.load(engine_settings(ltx2_folder, diffusers_guidance=1.0))
    images = [photo(seed=1), photo(seed=2), photo(seed=3)]
    params = TaskParams(["a", "b", "c"], "a cat walks", 1, "540p", "high", 7, audio=True)
    task = job(tmp_path, images=images)
    task = RenderJob(**{**task.__dict__, "params": params})
    progress: list[float] = []
    result = engine.render(task, progress.append, never)

    assert probe(result.path) == (960, 540, 24, 24.0)
    assert result.info["family"] == "ltx-2" and result.info["keyframes"] == 3
    assert result.info["model_audio"] is True
    with av.open(str(result.path)) as container:
        audio = container.streams.audio[0]
        assert audio.codec_context.sample_rate == 48_000 and audio.codec_context.channels == 2
    assert progress == sorted(progress) and progress[-1] == 1.0


def test_ltx2_refuses_more_images_than_keyframes(ltx2_folder: Path) -> None:
    settings = engine_settings(ltx2_folder)
    assert SPEC.check_request is not None
    SPEC.check_request(TaskParams(["x"] * 4, "p", 1, "540p", "auto", 1), settings)
    with pytest.raises(InvalidRequestBody, match="a 1 s video has 4"):
        SPEC.check_request(TaskParams(["x"] * 5, "p", 1, "540p", "auto", 1), settings)
    SPEC.check_request(TaskParams(["x"] * 5, "p", 1, "540p", "auto", 1), engine_settings(ltx2_folder.parent))


def fake_folder(path: Path, pipeline: str, vae_config: dict[str, object], sharded: bool = False) -> Path:
    """A model folder's JSON files and empty weight files: all that family detection reads."""
    components = {
        "vae": ["diffusers", "AutoencoderKLWan"],
        "transformer": ["diffusers", "WanTransformer3DModel"],
    }
    path.mkdir()
    (path / "model_index.json").write_text(json.dumps({"_class_name": pipeline, **components}))
    for name in components:
        (path / name).mkdir()
        (path / name / "config.json").write_text(json.dumps(vae_config if name == "vae" else {}))
        if sharded and name == "transformer":
            shards = {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}
            (path / name / "model.safetensors.index.json").write_text(json.dumps({"weight_map": shards}))
            (path / name / shards["a"]).touch()
        else:
            (path / name / "diffusion_pytorch_model.safetensors").touch()
    return path


def test_folders_of_other_models_are_refused_by_name(tmp_path: Path) -> None:
    other = fake_folder(tmp_path / "sd", "StableDiffusionPipeline", {})
    with pytest.raises(ValueError, match="'StableDiffusionPipeline' is not a supported family"):
        SPEC.check_settings(engine_settings(other))  # type: ignore[misc]
    text_only = fake_folder(tmp_path / "t2v", "WanPipeline", {"z_dim": 16})
    with pytest.raises(ValueError, match="text-to-video only"):
        SPEC.check_settings(engine_settings(text_only))  # type: ignore[misc]
    sharded = fake_folder(tmp_path / "shards", "WanPipeline", {"z_dim": 48}, sharded=True)
    with pytest.raises(ValueError, match=r"missing transformer/model-00002-of-00002.safetensors$"):
        SPEC.check_settings(engine_settings(sharded))  # type: ignore[misc]


def test_a_wan_text_to_video_model_with_two_experts_is_refused_at_start(
    wan_a14b_folder: Path, tmp_path: Path
) -> None:
    """Wan 2.2 T2V-A14B has A14B's two experts; its transformer takes no image latents."""
    text_only = shutil.copytree(wan_a14b_folder, tmp_path / "t2v-a14b")
    z_dim = json.loads((text_only / "vae" / "config.json").read_text()).get("z_dim", 16)
    for transformer in ("transformer", "transformer_2"):
        config = text_only / transformer / "config.json"
        if config.exists():
            config.write_text(json.dumps(json.loads(config.read_text()) | {"in_channels": z_dim}))
    with pytest.raises(ValueError, match="a Wan text-to-video model"):
        SPEC.check_settings(engine_settings(text_only))  # type: ignore[misc]


def test_a_family_setting_that_contradicts_the_folder_is_refused(wan_ti2v_folder: Path) -> None:
    with pytest.raises(ValueError, match=r"VIDGATE_DIFFUSERS_FAMILY is 'ltx-2' but .* holds 'wan-ti2v-5b'"):
        SPEC.check_settings(engine_settings(wan_ti2v_folder, diffusers_family="ltx-2"))  # type: ignore[misc]
