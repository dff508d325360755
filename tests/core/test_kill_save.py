"""No annotation is ever lost: a process killed (SIGKILL) while it saves findings leaves a
complete findings file holding every save that returned; files of the first schema version
still open, and a file from a newer program gives a clear error.

The killed process is a child forked from the test process (already imported, so a trial costs
milliseconds). It adds a surgeon's finding and saves through `Workspace.save` -- the viewer's
autosave -- in a loop (every fifth round a fresh analysis is then merged in through
`Workspace.save_analysis`, as a batch run would), and after each save returns it writes
the finding's number to a pipe. The parent kills it after a random delay, then reopens the
workspace: the file must exist, parse, and hold the last finding reported saved.
"""

from __future__ import annotations

import json
import os
import random
import select
import signal
import time

import pytest

from nvc_viewer.errors import FindingsFileError
from nvc_viewer.findings import (
    SCHEMA_VERSION,
    CaseFindings,
    Finding,
    read_findings_json,
)
from nvc_viewer.workspace import Workspace

#: Kills in the suite; ``benchmarks/kill_save_long.py`` runs 200 (or more).
TRIALS = 60
CASE_ID = "case-017"
SOURCE = {"kind": "nifti", "series": [{"role": "t2", "uid_sha256": None}]}


def manual_finding(n: int) -> Finding:
    return Finding(
        id=f"manual-{n:05d}", side="left" if n % 2 else "right", nerve="VII", vessel="AICA",
        vessel_kind="artery", segment="RDP", grade="contact",
        position_ras=(10.0 + n * 0.01, -20.0, -30.0), confidence=1.0, origin="manual",
        author="surgeon", note=f"round {n}",
    )  # fmt: skip


def auto_finding(n: int) -> Finding:
    return Finding(
        id=f"auto-{n:05d}", side="left", nerve="VII", vessel="PICA", vessel_kind="artery",
        segment="cisternal", grade="contact", position_ras=(-12.0, -25.0, -40.0 - n),
        confidence=0.5, origin="auto",
    )  # fmt: skip


def _saver(root: str, start: int, write_fd: int) -> None:
    """The child: add a finding, save, report its number; forever (until killed)."""
    workspace = Workspace(root)
    case = workspace.load(CASE_ID)  # what the viewer holds: the file as last saved
    n = start
    while True:
        n += 1
        case = case.with_finding(manual_finding(n))
        workspace.save(case)
        if n % 5 == 0:
            fresh = CaseFindings(CASE_ID, SOURCE, findings=(auto_finding(n),))
            case = workspace.save_analysis(fresh)
        os.write(write_fd, f"{n}\n".encode())


def _trial(root, rng: random.Random, max_delay_s: float) -> tuple[int, int]:
    """One kill: returns (saves confirmed before the kill, number of the last one)."""
    workspace = Workspace(root)
    before = workspace.load(CASE_ID)
    start = max(int(f.id.split("-")[1]) for f in before.findings if f.origin == "manual")
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_fd)
        try:
            _saver(str(root), start, write_fd)
        finally:
            os._exit(0)
    os.close(write_fd)
    # Wait for the first save to return (the child is then in its loop), then kill it
    # somewhere in a later save or between two.
    received = b""
    while b"\n" not in received and select.select([read_fd], [], [], 60)[0]:
        chunk = os.read(read_fd, 65536)
        if not chunk:
            break
        received += chunk
    time.sleep(rng.uniform(0.0, max_delay_s))
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    while select.select([read_fd], [], [], 0)[0]:
        chunk = os.read(read_fd, 65536)
        if not chunk:
            break
        received += chunk
    os.close(read_fd)
    confirmed = [int(line) for line in received.decode().split("\n")[:-1]]  # whole lines only
    return len(confirmed), (confirmed[-1] if confirmed else start)


def run_kill_trials(root, trials: int, *, seed: int = 7, max_delay_s: float = 0.06) -> dict:
    """Kill a saving child ``trials`` times; check the file after each kill.

    Returns
    -------
    dict
        ``trials``, ``saves`` (confirmed in all), ``losses`` (trials that lost a confirmed
        finding, with what was lost), ``unreadable`` (trials after which the file was missing,
        empty or invalid, with why), ``mid_save`` (kills between a save's rename and its
        report), ``mid_write`` (kills inside an atomic write: its temporary file was left).
    """
    workspace = Workspace(root)
    workspace.save(CaseFindings(CASE_ID, SOURCE, findings=(manual_finding(0),)))
    path = workspace.findings_path(CASE_ID)
    rng = random.Random(seed)
    seen_leftovers: set = set()
    stats: dict = {
        "trials": trials, "saves": 0, "losses": [], "unreadable": [], "mid_save": 0,
        "mid_write": 0,
    }  # fmt: skip
    for trial in range(trials):
        n_confirmed, last = _trial(root, rng, max_delay_s)
        stats["saves"] += n_confirmed
        # A new temporary file left behind: the kill landed inside an atomic write.
        leftovers = set(path.parent.glob(".findings.json.*"))
        stats["mid_write"] += len(leftovers - seen_leftovers)
        seen_leftovers |= leftovers
        # The file is there, not empty, valid against the schema...
        try:
            if not path.is_file() or path.stat().st_size == 0:
                raise FindingsFileError("missing or empty", path=path)
            case = read_findings_json(path)
        except FindingsFileError as exc:
            stats["unreadable"].append((trial, str(exc)))
            workspace.save(CaseFindings(CASE_ID, SOURCE, findings=(manual_finding(last),)))
            continue
        ids = {f.id for f in case.findings}
        # ... and it holds every finding whose save returned (the last one and all before).
        lost = sorted({f"manual-{n:05d}" for n in range(last + 1)} - ids)
        if lost:
            stats["losses"].append((trial, lost[:3]))
        # A save that had started but not returned may or may not be in: either is fine.
        newest = max(int(i.split("-")[1]) for i in ids if i.startswith("manual-"))
        stats["mid_save"] += newest == last + 1
    return stats


def test_sigkill_during_autosave_never_loses_a_confirmed_finding(tmp_path):
    root = tmp_path / "workspace"
    stats = run_kill_trials(root, TRIALS)
    assert not stats["unreadable"], stats["unreadable"][:5]
    assert not stats["losses"], f"{len(stats['losses'])} kills lost findings: {stats['losses'][:5]}"
    assert stats["saves"] >= TRIALS  # every kill came after at least one save had returned
    # Temporary files of interrupted saves are never taken for a case or its findings file.
    assert Workspace(root).case_ids() == [CASE_ID]
    print(
        f"{TRIALS} kills, {stats['saves']} saves confirmed, {stats['mid_write']} kills inside "
        f"a write, {stats['mid_save']} after a rename and before its report, 0 losses"
    )


# -- files written by earlier versions -------------------------------------------------------

#: A findings file as the first release wrote it (schema version 1, docs/design.md, section 4), by
#: hand: every field, a confirmed, a rejected and a manual finding, landmarks, clinical data.
FIRST_RELEASE_FILE = r"""{
  "schema": "nvc-viewer/findings",
  "schema_version": 1,
  "case_id": "hfs-0042",
  "source": {"kind": "dicom", "series": [
    {"role": "t2",
     "uid_sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"},
    {"role": "tof", "uid_sha256": null}]},
  "coordinate_system": "RAS",
  "units": "mm",
  "landmarks": [
    {"name": "RExP", "side": "left", "nerve": "VII", "position_ras": [-14.5, -22.0, -38.25],
     "origin": "auto"},
    {"name": "RDP", "side": "left", "nerve": "VII", "position_ras": [-17.0, -21.5, -37.0],
     "origin": "manual"}],
  "findings": [
    {"id": "f-1", "side": "left", "nerve": "VII", "vessel": "AICA", "vessel_kind": "artery",
     "segment": "RDP", "grade": "indentation", "position_ras": [-17.2, -21.4, -37.1],
     "distance_from_brainstem_mm": 0.4, "vessel_diameter_mm": 1.6, "crossing_angle_deg": 72.5,
     "confidence": 0.83, "origin": "auto-confirmed", "author": "dr-a",
     "created": "2026-03-02T09:14:00+00:00", "modified": "2026-03-02T09:20:31+00:00",
     "note": "offending loop, caudal"},
    {"id": "f-2", "side": "left", "nerve": "VII", "vessel": "PICA", "vessel_kind": "artery",
     "segment": "cisternal", "grade": "contact", "position_ras": [-20.0, -20.0, -39.0],
     "distance_from_brainstem_mm": 6.1, "vessel_diameter_mm": null, "crossing_angle_deg": null,
     "confidence": 0.31, "origin": "auto-rejected", "author": "dr-a",
     "created": "2026-03-02T09:14:00+00:00", "modified": "2026-03-02T09:21:02+00:00",
     "note": ""},
    {"id": "f-3", "side": "left", "nerve": "VII", "vessel": "vein", "vessel_kind": "vein",
     "segment": "attached", "grade": "contact", "position_ras": [-15.0, -22.5, -38.0],
     "distance_from_brainstem_mm": -1.5, "vessel_diameter_mm": 0.9, "crossing_angle_deg": 15.0,
     "confidence": 1.0, "origin": "manual", "author": null,
     "created": "2026-03-02T09:25:00+00:00", "modified": "2026-03-02T09:25:00+00:00",
     "note": "sandwich with f-1?"}],
  "flags": {"multiple_offenders": true, "sandwich": false, "va_tortuosity": false},
  "clinical": {"condition": "hemifacial_spasm", "symptomatic_side": "left",
               "emg_lateral_spread_response": "present", "note": "botox since 2021"}
}
"""


def test_a_first_release_findings_file_still_opens(tmp_path):
    # The oldest file a surgeon can hold: version 1, opened through every migration since.
    path = tmp_path / "hfs-0042" / "findings.json"
    path.parent.mkdir()
    path.write_text(FIRST_RELEASE_FILE, encoding="utf-8")
    case = Workspace(tmp_path).load("hfs-0042")
    assert case.case_id == "hfs-0042"
    assert [f.origin for f in case.findings] == ["auto-confirmed", "auto-rejected", "manual"]
    assert case.finding("f-1").position_ras == (-17.2, -21.4, -37.1)
    assert case.finding("f-3").distance_from_brainstem_mm == -1.5
    assert case.landmarks[1].origin == "manual" and case.flags.multiple_offenders
    assert case.clinical.emg_lateral_spread_response == "present"
    # Saved again, nothing is lost and the file says the current version.
    Workspace(tmp_path).save(case)
    doc = json.loads(path.read_text("utf-8"))
    original = json.loads(FIRST_RELEASE_FILE)
    assert doc["schema_version"] == SCHEMA_VERSION
    # Nothing is lost: a machine finding's version-1 note (the machine's rationale) is its
    # read-only rationale now, a manual finding's note stays the surgeon's.
    migrated = []
    for f in original["findings"]:
        machine = f["origin"] != "manual"
        note = f["note"]
        migrated.append(
            {
                **f,
                "note": "" if machine else note,
                "rationale": note if machine else "",
                "edited": False,
            }
        )
    assert doc["findings"] == migrated and doc["landmarks"] == original["landmarks"]
    assert doc["clinical"] == original["clinical"] and doc["source"] == original["source"]


@pytest.mark.parametrize(
    ("version", "match"),
    [(SCHEMA_VERSION + 1, "newer nvc-viewer"), (0, "schema_version"), (None, "schema_version")],
)
def test_a_findings_file_of_an_unknown_version_is_a_clear_error(tmp_path, version, match):
    doc = json.loads(FIRST_RELEASE_FILE)
    doc["schema_version"] = version
    path = tmp_path / "hfs-0042" / "findings.json"
    path.parent.mkdir()
    path.write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(FindingsFileError, match=match) as info:
        Workspace(tmp_path).load("hfs-0042")
    assert str(path) in str(info.value)
    # Nothing is overwritten: a newer program's file survives a batch merge attempt.
    with pytest.raises(FindingsFileError):
        Workspace(tmp_path).save_analysis(CaseFindings("hfs-0042", SOURCE))
    assert json.loads(path.read_text("utf-8"))["schema_version"] == version
