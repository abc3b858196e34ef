"""The command line as a user meets it: one line per problem, no tool noise, one run per project at a time."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from trigger_nn import project_lock
from trigger_nn.cli import main

TRIGGER_NN = Path(sys.executable).with_name("trigger-nn")
#: what TensorFlow writes to stderr while it loads, unless silenced
TF_NOISE = ("absl", "cuda", "oneDNN", "cpu_feature_guard", "tensorflow")
SMALL = {"name": "tiny_cli", "task": "ecl_photon", "data": {"n_train": 200, "n_test": 100}}


def _card(tmp_path: Path, **changes: object) -> Path:
    card = tmp_path / "card.yaml"
    card.write_text(yaml.safe_dump(SMALL | changes))
    return card


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(TRIGGER_NN), *args], cwd=cwd, capture_output=True, text=True, timeout=300)


def test_help_a_bad_card_and_a_tensorflow_stage_print_no_tensorflow_lines(tmp_path: Path) -> None:
    helped = _run("--help", cwd=tmp_path)
    assert helped.returncode == 0 and helped.stderr == ""
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ntask: ecl_photon\nfirmware: {part: ep4ce22}\n")
    refused = _run("simulate", str(bad), cwd=tmp_path)
    assert refused.returncode == 1 and len(refused.stderr.splitlines()) == 1, refused.stderr
    # `train` loads TensorFlow before it finds that nothing was simulated: still the one line
    untrained = _run("train", str(_card(tmp_path)), "-q", "--projects", str(tmp_path / "p"), cwd=tmp_path)
    assert untrained.returncode == 1
    assert len(untrained.stderr.splitlines()) == 1 and "run `trigger-nn simulate`" in untrained.stderr
    assert not any(word in untrained.stderr for word in TF_NOISE), untrained.stderr


def test_verify_help_says_what_it_runs(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["verify", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "the card's verify.n_vectors (default 10,000)" in text and ">= 10,000" not in text


def test_a_second_command_on_a_busy_project_refuses_naming_the_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    card = _card(tmp_path)
    project = tmp_path / "p" / "tiny_cli"
    with project_lock.hold(project, "build elsewhere.yaml"):
        assert main(["simulate", str(card), "--projects", str(tmp_path / "p")]) == 1
    err = capsys.readouterr().err
    assert f"{project} is in use by `trigger-nn build elsewhere.yaml` (pid {os.getpid()}" in err
    assert not (project / "data").exists()
    assert main(["simulate", str(card), "--projects", str(tmp_path / "p")]) == 0  # released


def test_temporary_folders_of_an_interrupted_run_are_removed(tmp_path: Path) -> None:
    project = tmp_path / "p" / "tiny_cli"
    leftovers = [project / "data" / ".dataset.h5.k2x_9q0a", project / ".hls.abcdefgh"]
    for folder in leftovers:
        (folder / "half").mkdir(parents=True)
    keep = project / ".not_ours"
    keep.mkdir()
    assert main(["simulate", str(_card(tmp_path)), "--projects", str(tmp_path / "p")]) == 0
    assert not any(folder.exists() for folder in leftovers) and keep.is_dir()


def test_projects_that_is_a_file_is_one_line_naming_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    file = tmp_path / "projects"
    file.write_text("not a folder")
    assert main(["simulate", str(_card(tmp_path)), "--projects", str(file)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "error:" in err[0] and str(file) in err[0], err


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--workers", "0"], "--workers must be at least 1, got 0"),
        (["--workers", "2", "--scheduler", "tcp://127.0.0.1:1"], "give --workers or --scheduler, not both"),
    ],
)
def test_bad_dask_options_are_one_line_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], options: list[str], message: str
) -> None:
    projects = tmp_path / "p"
    assert main(["verify", str(_card(tmp_path)), "--projects", str(projects), *options]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert not projects.exists()


def test_sigterm_ends_a_run_as_ctrl_c_does(tmp_path: Path) -> None:
    card = _card(tmp_path, data={"n_train": 400000, "n_test": 100})  # a simulation of many seconds
    proc = subprocess.Popen(
        [str(TRIGGER_NN), "simulate", str(card), "--projects", str(tmp_path / "p")],
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    for line in proc.stderr:  # wait until it is simulating
        if "simulating" in line:
            break
    time.sleep(1.0)
    proc.send_signal(signal.SIGTERM)
    rest = proc.stderr.read()
    assert proc.wait(timeout=120) == 130
    assert "interrupted" in rest
    data = tmp_path / "p" / "tiny_cli" / "data"
    assert not (data / "dataset.json").exists() and not list(data.glob(".*"))
