"""Wan image-to-video: Wan 2.2 TI2V-5B (24 fps, one start image) and Wan 2.1 I2V-14B / Wan 2.2
I2V-A14B (16 fps, retimed to 24; a second image is the last frame), through diffusers'
`WanImageToVideoPipeline`.

Longer than the 5 s the models were trained for is refused at submit (the engine's limits), not
chained: a chained segment restarts the motion from a single frame, and the join shows.
"""

from __future__ import annotations

import torch
from diffusers import AutoencoderKLWan, WanImageToVideoPipeline

from vidgate.engines.base import FPS, CancelCheck, ProgressCallback, RenderCancelled, RenderJob, RenderResult
from vidgate.engines.diffusers import common
from vidgate.engines.diffusers.family import ModelFolder
from vidgate.engines.diffusers.levers import apply_levers
from vidgate.settings import Settings


class WanEngine:
    name = common.ENGINE_NAME

    def __init__(self, folder: ModelFolder, settings: Settings) -> None:
        self.family = folder.family
        self.settings = settings
        self.device = common.pick_device(settings.diffusers_device)
        dtype = common.model_dtype(self.device)
        # The VAE in float32, as Wan's model cards advise (bf16 decoding bands smooth gradients).
        vae = AutoencoderKLWan.from_pretrained(
            folder.path, subfolder="vae", dtype=torch.float32, local_files_only=True
        )
        # TI2V-5B's folder is published for WanPipeline; image-to-video needs expand_timesteps set.
        overrides = {"expand_timesteps": True} if self.family.key == "wan-ti2v-5b" else {}
        self.pipe = WanImageToVideoPipeline.from_pretrained(
            folder.path, vae=vae, dtype=dtype, local_files_only=True, **overrides
        )
        self.pipe.set_progress_bar_config(disable=True)
        self.levers = apply_levers(self.pipe, settings, self.device, dtype)

    def render(
        self, job: RenderJob, on_progress: ProgressCallback, should_cancel: CancelCheck
    ) -> RenderResult:
        # 1. Plan: sizes, frame counts, steps and prompts for this job.
        plan = common.plan_render(job, self.family, self.settings)
        max_images = self.family.max_images or len(job.images)
        if len(job.images) > max_images:  # the limits refuse these at submit
            raise ValueError(
                f"{self.family.title} takes at most {max_images} image(s), got {len(job.images)}"
            )

        # 2. Condition images at the generation size: the first frame, and the last one (A14B).
        image = common.condition_image(job.images[0], plan)
        last_image = common.condition_image(job.images[1], plan) if len(job.images) == 2 else None

        # 3. Denoise and decode, reporting each step and stopping within one when cancelled.
        steps = common.StepReporter(plan.steps, on_progress, should_cancel)
        if should_cancel():
            raise RenderCancelled(info={"cancelled_at_step": 0})
        with common.gpu_memory_guard(plan, self.device, self.pipe):
            output = self.pipe(
                image=image,
                last_image=last_image,
                prompt=plan.prompt,
                negative_prompt=plan.negative_prompt,
                height=plan.gen_height,
                width=plan.gen_width,
                num_frames=plan.generated_frames,
                num_inference_steps=plan.steps,
                guidance_scale=plan.guidance,
                generator=common.seeded_generator(job.seed),
                output_type="np",
                callback_on_step_end=steps,
            )
            frames = common.to_uint8(output.frames[0])
            del output
        on_progress(common.DECODED_AT)

        # 4. 24 fps (16 fps models are retimed), the contract's size, the job's sound and marks.
        common.encode(
            job, plan, common.retime(frames, self.family.fps, plan.frames), on_progress, should_cancel
        )
        return common.result(
            job,
            plan,
            self.family,
            steps,
            self.levers,
            retimed=self.family.fps != FPS,
            last_image=last_image is not None,
        )
