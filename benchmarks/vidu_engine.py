"""The vidu engine's own overhead over the provider's time, against the test fake on 127.0.0.1.

The fake's task moves through created -> queueing -> processing -> success, one state every STEP_S,
so it is a success 3 * STEP_S after the create. Measured: the wall time of `ViduEngine.render()` (create,
wait, copy, check, tag) minus that, with the default poll settings, (a) polling only, and (b) with the
provider's signed callbacks delivered to a receiver that verifies them and hands them to the engine as
the API's route does (`EngineState.pushed()`). Interleaved runs; medians.

Run: `.venv/bin/python benchmarks/vidu_engine.py`
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the fake provider and the engine's test helpers

from engines.vidu.test_vidu_callback import receiver  # noqa: E402
from engines.vidu.vidu_support import MemoryState, Progress, make_job  # noqa: E402
from fakes.vidu_provider import API_KEY, running_fake  # noqa: E402
from vidgate.engines.vidu.engine import ViduEngine  # noqa: E402
from vidgate.settings import Settings  # noqa: E402

STEP_S = 0.5
RUNS = 7


def one_run(folder: Path, base_url: str, public_base_url: str, state: MemoryState) -> float:
    settings = Settings(
        data_dir=folder / "var",
        vidu_api_key=API_KEY,
        vidu_base_url=base_url,
        vidu_allow_provider_host=True,
        public_base_url=public_base_url,
        _env_file=None,  # type: ignore[call-arg]
    )
    engine = ViduEngine(settings)
    try:
        job = make_job(folder, state=state, task_id=f"bench-{time.monotonic_ns()}")
        progress = Progress()
        started = time.monotonic()
        engine.render(job, progress, progress.should_cancel)
        return time.monotonic() - started - 3 * STEP_S
    finally:
        engine.close()


def main() -> None:
    overheads: dict[str, list[float]] = {"polling only": [], "signed callbacks": []}
    with tempfile.TemporaryDirectory() as tmp, running_fake() as fake:
        fake.step_seconds = STEP_S
        for _ in range(RUNS):
            overheads["polling only"].append(one_run(Path(tmp), fake.base_url, "", MemoryState()))
            state = MemoryState()
            fake.send_callbacks = True

            def push(task: dict[str, object], state: MemoryState = state) -> None:
                state.pushed_event = task

            with receiver(fake.api_key, push) as public:
                overheads["signed callbacks"].append(one_run(Path(tmp), fake.base_url, public, state))
            fake.send_callbacks = False
    print(f"provider time {3 * STEP_S:.2f} s (success after create); {RUNS} runs each; default poll settings")
    print("| follow-up | overhead, median (s) | min (s) | max (s) |")
    print("|---|---|---|---|")
    for name, values in overheads.items():
        print(f"| {name} | {statistics.median(values):.3f} | {min(values):.3f} | {max(values):.3f} |")


if __name__ == "__main__":
    main()
