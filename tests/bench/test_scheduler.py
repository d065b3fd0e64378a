"""How scenarios 3, 4 and 8 measure and judge: the deployment's CPU seconds, and the measure a target
is judged on.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

from bench.scheduler import Measure, judged_measure
from tests.support.deployment import Deployment

# A component that burns CPU in a child it waits for, then in a grandchild it leaves running.
COMPONENT = textwrap.dedent(
    """
    import subprocess, sys, time
    burn = "import time\\nend = time.process_time() + {seconds}\\nwhile time.process_time() < end: pass\\n"
    subprocess.run([sys.executable, "-c", burn.format(seconds=0.6)], check=True)
    child = subprocess.Popen([sys.executable, "-c", burn.format(seconds=0.4) + "time.sleep(60)"])
    print("ready", flush=True)
    time.sleep(60)
    """
)


def test_cpu_seconds_counts_exited_and_running_descendants(tmp_path):
    deployment = Deployment(home=tmp_path, metadata_url="unused", connections={})
    component = subprocess.Popen(
        [sys.executable, "-c", COMPONENT], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    deployment.processes["component"] = component
    try:
        assert component.stdout.readline().strip() == "ready"
        # The exited child's 0.6 s are charged to the component; the live grandchild's own 0.4 s are
        # counted once it has burnt them.
        deployment.wait_until(lambda: deployment.cpu_seconds() >= 1.0, 30, "the grandchild's CPU", 0.1)
        assert deployment.cpu_seconds() < 3.0  # two interpreters' start-up besides the burn, not more
    finally:
        deployment.stop()


def measure(name: str, project: list[float], baseline: list[float]) -> Measure:
    return Measure(name, "s", project, baseline)


def test_a_target_is_judged_on_the_first_measure_quiet_enough_for_its_margin():
    wall = measure("wall", [70.0, 60.0, 75.0], [64.0, 73.0, 62.0])  # 21% and 17% apart
    cpu = measure("cpu", [1.50, 1.52, 1.49], [1.30, 1.31, 1.30])  # 2% apart
    assert wall.noise == (75 - 60) / 70
    assert judged_measure([wall, cpu], limit=1.25) is wall  # 21% < 25%: the preferred one will do
    assert judged_measure([wall, cpu], limit=1.15) is cpu  # wall is noisier than 15%
    assert judged_measure([wall], limit=1.15) is None  # no verdict


def test_a_scenario_row_is_judged_on_cpu_when_wall_time_is_too_noisy_and_not_judged_when_both_are():
    from bench.scheduler import Drain, drain_result

    quiet_cpu = Drain(
        pool=4,
        latency_ms=0,
        project=[70.0, 60.0, 95.0],  # 50% apart: more than the 25% margin
        baseline=[64.0, 73.0, 62.0],
        project_cpu=[1.50, 1.52, 1.49],
        baseline_cpu=[1.30, 1.31, 1.30],
    )
    row = drain_result(3, quiet_cpu, 200, True, {}, None, {3: quiet_cpu}, "start-up not counted")
    assert (row.unit, row.project, row.baseline, row.passed) == ("cpu-s", 1.50, 1.30, True)
    assert any(note.startswith("judged on deployment CPU per customer") for note in row.notes)
    assert "CPU s/customer" in row.cells()[3]

    noisy = Drain(4, 0, [70.0, 60.0, 95.0], [64.0, 73.0, 62.0], [1.0, 1.5, 1.2], [1.3, 1.31, 1.3])
    row = drain_result(3, noisy, 200, True, {}, None, {3: noisy}, "start-up not counted")
    assert row.passed is None and row.cells()[-1] == "not judged"
    assert row.unit == "s"  # the table shows wall time when nothing is judged

    smoke = drain_result(3, noisy, 2, False, {}, None, {3: noisy}, "start-up not counted")
    assert smoke.passed is None and smoke.cells()[-1] == "-"
