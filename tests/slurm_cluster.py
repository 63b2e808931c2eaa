"""A real single-node Slurm cluster for the tests (munged, slurmctld, slurmd as root, from
Debian's slurm-wlm and munge), or the reason it cannot be had here.

The config lives in a temporary folder and reaches every Slurm command through SLURM_CONF, so
nothing under /etc/slurm is touched; the daemons are stopped by pid afterwards.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

CONF = """ClusterName=weedouttest
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
SchedulerType=sched/builtin
MpiDefault=none
SlurmctldPort={port}
SlurmdPort={dport}
StateSaveLocation={tmp}/state
SlurmdSpoolDir={tmp}/spool
SlurmctldPidFile={tmp}/slurmctld.pid
SlurmdPidFile={tmp}/slurmd.pid
SlurmctldLogFile={tmp}/slurmctld.log
SlurmdLogFile={tmp}/slurmd.log
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
KillWait=2
MinJobAge=300
NodeName=localhost NodeHostname={host} CPUs={cpus} RealMemory={mem} State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:4
"""

MUNGE_KEY = Path("/etc/munge/munge.key")


def why_not() -> str | None:
    """Why a cluster cannot be started here, or None."""
    if os.geteuid() != 0:
        return "the Slurm tests start slurmctld/slurmd and need root"
    missing = [t for t in ("munged", "slurmctld", "slurmd", "sinfo", "sbatch", "squeue")
               if shutil.which(t) is None and not Path("/usr/sbin", t).exists()]
    if missing:
        return f"Slurm is not installed ({', '.join(missing)} missing): apt-get install slurm-wlm munge"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _mem_mb() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) // 1024 // 2  # half: the node must fit what slurmd sees
    return 1024


def _munged_running() -> bool:
    return subprocess.run(["munge", "-n"], capture_output=True).returncode == 0


class Cluster:
    def __init__(self, tmp: Path):
        self.tmp, self.pids = Path(tmp), []
        self.env = {**os.environ, "SLURM_CONF": str(self.tmp / "slurm.conf")}

    def start(self, timeout: float = 60) -> None:
        for d in ("state", "spool"):
            (self.tmp / d).mkdir(parents=True, exist_ok=True)
        (self.tmp / "slurm.conf").write_text(CONF.format(
            tmp=self.tmp, port=_free_port(), dport=_free_port(), host=socket.gethostname(),
            cpus=os.cpu_count(), mem=_mem_mb()))
        if not _munged_running():
            self._start_munged()
        for daemon in ("slurmctld", "slurmd"):
            proc = subprocess.Popen([shutil.which(daemon) or f"/usr/sbin/{daemon}", "-D"],
                                    env=self.env, stdout=subprocess.DEVNULL,
                                    stderr=open(self.tmp / f"{daemon}.stderr", "wb"))
            self.pids.append(proc.pid)
            time.sleep(1)
        deadline = time.time() + timeout
        while time.time() < deadline:
            out = subprocess.run(["sinfo", "-h", "-o", "%T"], env=self.env, capture_output=True,
                                 text=True).stdout.strip()
            if out == "idle":
                return
            time.sleep(0.5)
        logs = "\n".join((self.tmp / f).read_text(errors="replace")[-1500:]
                         for f in ("slurmctld.log", "slurmd.log") if (self.tmp / f).exists())
        raise RuntimeError(f"the Slurm node did not become idle in {timeout} s (sinfo: {out!r}):\n"
                           f"{logs}")

    def _start_munged(self) -> None:
        if not MUNGE_KEY.exists():
            MUNGE_KEY.parent.mkdir(parents=True, exist_ok=True)
            MUNGE_KEY.write_bytes(os.urandom(1024))
            os.chmod(MUNGE_KEY, 0o400)
            shutil.chown(MUNGE_KEY, "munge", "munge")
        for d in ("/run/munge", "/var/log/munge", "/var/lib/munge"):
            Path(d).mkdir(parents=True, exist_ok=True)
            shutil.chown(d, "munge", "munge")
        pidfile = Path("/run/munge/munged.pid")  # munged's default, written as user munge
        subprocess.run(["runuser", "-u", "munge", "--", shutil.which("munged") or "/usr/sbin/munged"],
                       check=True)
        for _ in range(50):
            if _munged_running():
                break
            time.sleep(0.1)
        self.pids.append(int(pidfile.read_text().strip()))

    def stop(self) -> None:
        for pid in reversed(self.pids):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
            for _ in range(50):
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                try:  # our own child: reap it, so it is not a zombie that "exists"
                    if os.waitpid(pid, os.WNOHANG)[0] == pid:
                        break
                except ChildProcessError:
                    pass
                time.sleep(0.1)
