"""LTX-2 through diffusers' `LTX2ConditionPipeline`: 24 fps, 8k + 1 frames, every input image a
keyframe (the first at frame 0, the last at the end, the others spread evenly between), and its own
soundtrack, generated with the video.

Audio: when the task asks for `audio`, the model's sound is used (resampled to 48 kHz stereo and
mastered with the job's soundtrack, which then carries only the bgm: the engine's limits say it
renders `audio` itself); otherwise the job's shared soundtrack, as for every engine.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from diffusers import LTX2ConditionPipeline
from diffusers.pipelines.ltx2.pipeline_ltx2_condition import LTX2VideoCondition
from scipy import signal

from vidgate.engines.base import CancelCheck, ProgressCallback, RenderCancelled, RenderJob, RenderResult
from vidgate.engines.diffusers import common
from vidgate.engines.diffusers.family import ModelFolder
from vidgate.engines.diffusers.levers import apply_levers
from vidgate.media.audio.mix import master
from vidgate.media.encode import AUDIO_SAMPLE_RATE
from vidgate.settings import Settings

# How strongly keyframes after the first hold the video to their image, by movement_amplitude:
# looser keyframes leave the model room to move. The first frame always holds fully.
KEYFRAME_STRENGTH = {"auto": 1.0, "small": 1.0, "medium": 0.9, "high": 0.75}


class Ltx2Engine:
    name = common.ENGINE_NAME

    def __init__(self, folder: ModelFolder, settings: Settings) -> None:
        self.family = folder.family
        self.settings = settings
        self.has_audio = folder.has_audio
        self.device = common.pick_device(settings.diffusers_device)
        dtype = common.model_dtype(self.device)
        self.pipe = LTX2ConditionPipeline.from_pretrained(folder.path, dtype=dtype, local_files_only=True)
        self.pipe.set_progress_bar_config(disable=True)
        self.levers = apply_levers(self.pipe, settings, self.device, dtype)

    def render(
        self, job: RenderJob, on_progress: ProgressCallback, should_cancel: CancelCheck
    ) -> RenderResult:
        # 1. Plan, and a keyframe condition per image at its latent frame.
        plan = common.plan_render(job, self.family, self.settings)
        conditions = self.keyframes(job, plan)
        # Guidance 1 (the fast preset, or set so) also turns off the other guidance passes: one
        # transformer pass per step instead of three.
        one_pass = plan.guidance <= 1.0
        guidance = {
            "guidance_scale": plan.guidance,
            "audio_guidance_scale": plan.guidance if one_pass else 7.0,
            "stg_scale": 0.0 if one_pass else 1.0,
            "audio_stg_scale": 0.0 if one_pass else 1.0,
            "modality_scale": 1.0 if one_pass else 3.0,
            "audio_modality_scale": 1.0 if one_pass else 3.0,
        }

        # 2. Denoise video and audio together, then decode both.
        steps = common.StepReporter(plan.steps, on_progress, should_cancel)
        if should_cancel():
            raise RenderCancelled(info={"cancelled_at_step": 0})
        with common.gpu_memory_guard(plan, self.device, self.pipe):
            output = self.pipe(
                conditions=conditions,
                prompt=plan.prompt,
                negative_prompt=plan.negative_prompt,
                height=plan.gen_height,
                width=plan.gen_width,
                num_frames=plan.generated_frames,
                frame_rate=float(self.family.fps),
                num_inference_steps=plan.steps,
                generator=common.seeded_generator(job.seed),
                output_type="np",
                callback_on_step_end=steps,
                **guidance,
            )
            frames = common.to_uint8(np.asarray(output.frames[0]))
            model_audio = output.audio
            del output
        on_progress(common.DECODED_AT)

        # 3. The model's sound when the task asked for audio; the shared soundtrack otherwise.
        wants_audio = job.params is not None and job.params.audio
        audio = None
        if wants_audio and self.has_audio and model_audio is not None:
            rate = int(self.pipe.vocoder.config.output_sampling_rate)
            audio = self.soundtrack(model_audio[0], rate, job)

        # 4. 24 fps (the last generated frame dropped), the contract's size, marks and tags.
        common.encode(
            job, plan, common.retime(frames, self.family.fps, plan.frames), on_progress, should_cancel, audio
        )
        return common.result(
            job,
            plan,
            self.family,
            steps,
            self.levers,
            keyframes=len(conditions),
            model_audio=audio is not None,
        )

    def keyframes(self, job: RenderJob, plan: common.Plan) -> list[LTX2VideoCondition]:
        latent_frames = (plan.generated_frames - 1) // self.pipe.vae_temporal_compression_ratio + 1
        count = len(job.images)
        if count > latent_frames:  # check_request refuses these at submit
            raise ValueError(f"{count} keyframes do not fit in {latent_frames} latent frames")
        later = KEYFRAME_STRENGTH[job.movement_amplitude]
        conditions = []
        for index, image in enumerate(job.images):
            position = 0 if count == 1 else round(index * (latent_frames - 1) / (count - 1))
            strength = 1.0 if index == 0 else later
            conditions.append(
                LTX2VideoCondition(
                    frames=common.condition_image(image, plan), index=position, strength=strength
                )
            )
        return conditions

    def soundtrack(self, waveform: torch.Tensor, rate: int, job: RenderJob) -> np.ndarray:
        """The model's waveform (channels, samples) as the job's 48 kHz stereo float32, with the job's
        own soundtrack (the bgm) mixed under it, mastered like every vidgate soundtrack."""
        sound = waveform.float().cpu().numpy().T  # (samples, channels)
        if sound.shape[1] == 1:
            sound = np.repeat(sound, 2, axis=1)
        divisor = math.gcd(AUDIO_SAMPLE_RATE, rate)
        sound = signal.resample_poly(sound[:, :2], AUDIO_SAMPLE_RATE // divisor, rate // divisor, axis=0)
        length = job.duration * AUDIO_SAMPLE_RATE
        sound = _exactly(sound, length)
        if job.audio is not None:
            sound = sound + _exactly(job.audio, length)
        return master(sound).astype(np.float32)


def _exactly(sound: np.ndarray, length: int) -> np.ndarray:
    """`sound` cut or padded with silence to `length` samples."""
    return np.pad(sound[:length], ((0, max(0, length - len(sound))), (0, 0)))
