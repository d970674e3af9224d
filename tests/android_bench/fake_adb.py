"""Scripted stand-in for ``adb``: replays recorded transcripts and logs every command it receives.

State lives in ``$FAKE_ADB_STATE``: ``scenario.json`` (what to answer), ``log.jsonl`` (one argv per line),
``fs/<serial>/...`` (files pushed to each fake device), ``disconnected_<serial>`` markers and ``calls_<name>``
counters (how often a scripted sequence was answered).
"""

import json
import os
import shlex
import shutil
import sys
from pathlib import Path

STATE = Path(os.environ["FAKE_ADB_STATE"])
SCENARIO = json.loads((STATE / "scenario.json").read_text())
TRANSCRIPTS = Path(SCENARIO["transcripts"])


def transcript(name):
    return (TRANSCRIPTS / name).read_text()


def out(text, stream="stdout"):
    (sys.stdout if stream == "stdout" else sys.stderr).write(text)


def device_path(serial, remote):
    return STATE / "fs" / serial / remote.lstrip("/")


def disconnected(serial):
    return (STATE / f"disconnected_{serial}").exists()


def devices():
    lines = transcript(SCENARIO["devices"]).splitlines(keepends=True)
    out("".join(line for line in lines if not any(line.startswith(s) and disconnected(s) for s in SCENARIO["serials"])))
    return 0


def push(serial, local, remote):
    if not os.path.exists(local):
        out(f"adb: error: cannot stat '{local}': No such file or directory\n", "stderr")
        return 1
    if SCENARIO.get("disconnect_on_push") == os.path.basename(remote):
        (STATE / f"disconnected_{serial}").touch()
        out(f"adb: device '{serial}' not found\n", "stderr")
        return 1
    target = device_path(serial, remote)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(local, target)
    os.chmod(target, 0o644)
    size = os.path.getsize(local)
    out(f"{local}: 1 file pushed, 0 skipped. 31.4 MB/s ({size} bytes in 0.001s)\n")
    return 0


def next_in_sequence(name, sequence):
    """The next item of a scripted sequence (the last one repeats), counted in the state folder."""
    counter = STATE / f"calls_{name}"
    calls = int(counter.read_text()) if counter.exists() else 0
    counter.write_text(str(calls + 1))
    return sequence[min(calls, len(sequence) - 1)]


def cur_freqs(serial, paths):
    """``grep -H . .../cpuN/cpufreq/scaling_cur_freq``: the scenario's next reading, or unreadable files."""
    readings = SCENARIO.get("cur_freq", {}).get(serial)
    reading = next_in_sequence(f"cur_freq_{serial}", readings) if readings else {}
    missing = 0
    for path in paths:
        cpu = path.split("/cpufreq/")[0].rsplit("/cpu", 1)[1]
        if cpu in reading:
            out(f"{path}:{reading[cpu]}\n")
        else:
            out(f"grep: {path}: No such file or directory\n", "stderr")
            missing += 1
    return 2 if missing else 0


def benchmark(serial, argv):
    binary = device_path(serial, argv[0])
    if not binary.exists():
        out(f"/system/bin/sh: {argv[0]}: inaccessible or not found\n", "stderr")
        return 127
    if not os.access(binary, os.X_OK):
        out(f"/system/bin/sh: {argv[0]}: can't execute: Permission denied\n", "stderr")
        return 126
    graph = next(arg.split("=", 1)[1] for arg in argv if arg.startswith("--graph="))
    if not device_path(serial, graph).exists():
        out(f"ERROR: Could not open '{graph}'.\nERROR: Failed to mmap model {graph}\n", "stderr")
        return 1
    name = os.path.basename(graph)
    if SCENARIO.get("disconnect_on") == name:
        out(transcript(SCENARIO.get("disconnect_transcript", "bench_disconnect_partial.txt")), "stderr")
        (STATE / f"disconnected_{serial}").touch()
        return 1
    if name in SCENARIO.get("bench_sequence", {}):
        spec = next_in_sequence(name, SCENARIO["bench_sequence"][name])
    else:
        spec = SCENARIO["bench"].get(name, SCENARIO["bench"].get("*"))
    out(transcript(spec["file"]), spec.get("stream", "stderr"))
    return spec.get("exit", 0)


def shell(serial, command):
    props = SCENARIO["serials"][serial]
    argv = shlex.split(command)
    if command.startswith("getprop; cat /sys/devices/system/cpu/possible; grep -H . "):
        out(transcript(props["getprop"]))
        text = transcript(props["cpufreq"])
        out("".join(line for line in text.splitlines(True) if "grep:" not in line))
        out("".join(line for line in text.splitlines(True) if "grep:" in line), "stderr")
        return 2 if "grep:" in text else 0
    if argv[:2] == ["grep", "-H"] and all(p.endswith("/cpufreq/scaling_cur_freq") for p in argv[3:]):
        return cur_freqs(serial, argv[3:])
    if argv[0] == "chmod" and len(argv) == 3:
        path = device_path(serial, argv[2])
        if not path.exists():
            out(f"chmod: {argv[2]}: No such file or directory\n", "stderr")
            return 1
        os.chmod(path, int(argv[1], 8))
        return 0
    if argv[:2] == ["rm", "-f"] and len(argv) == 3:
        device_path(serial, argv[2]).unlink(missing_ok=True)
        return 0
    if argv[0] == "taskset":
        return benchmark(serial, argv[2:])
    if argv[0].startswith("/data/local/tmp/"):
        return benchmark(serial, argv)
    out(f"/system/bin/sh: {argv[0]}: inaccessible or not found\n", "stderr")
    return 127


def main(args):
    with open(STATE / "log.jsonl", "a") as log:
        log.write(json.dumps(args) + "\n")
    if args[:2] == ["devices", "-l"]:
        return devices()
    if args[0] != "-s":
        out("adb: more than one device/emulator\n", "stderr")
        return 1
    serial, command = args[1], args[2:]
    if serial not in SCENARIO["serials"] or disconnected(serial):
        out(f"adb: device '{serial}' not found\n", "stderr")
        return 1
    if command[0] == "get-state":
        out("device\n")
        return 0
    if command[0] == "push":
        return push(serial, command[1], command[2])
    if command[0] == "shell":
        return shell(serial, " ".join(command[1:]))
    out(f"adb: unknown command {command[0]}\n", "stderr")
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
