"""A real Spark standalone cluster on 127.0.0.1: one master and N workers, from pyspark's own jars.

Started with pyspark's ``bin/spark-class`` (``org.apache.spark.deploy.master.Master`` and
``...worker.Worker``) as child processes, bound to the loopback address, small heaps
(the machine is shared): the daemons get 256 MB, each worker offers 1 core and 1 GB (both
settable: the scale benchmark gives each worker 2 GB). Stopped by their process ids at the end.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).resolve().parent


@dataclass
class Cluster:
    master_url: str
    processes: list[subprocess.Popen]
    logs: list[Path]

    def log_tail(self, lines: int = 20) -> str:
        return "\n".join(f"--- {p.name}\n" + "\n".join(p.read_text(errors="replace").splitlines()[-lines:])
                         for p in self.logs if p.exists())

    def stop(self) -> None:
        for proc in reversed(self.processes):
            if proc.poll() is None:
                proc.terminate()
        for proc in self.processes:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


def _wait_for(path: Path, text: str, proc: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and text in path.read_text(errors="replace"):
            return
        if proc.poll() is not None:
            raise RuntimeError(f"{path.name} exited with {proc.returncode}:\n{path.read_text(errors='replace')[-3000:]}")
        time.sleep(0.5)
    raise TimeoutError(f"no {text!r} in {path.name} after {timeout:.0f}s:\n{path.read_text(errors='replace')[-3000:]}")


def start_cluster(folder: Path, worker_memory: str = "1g", timeout: float = 180, workers: int = 2) -> Cluster:
    """Start a master and *workers* 1-core workers on 127.0.0.1; return when every worker has registered."""
    home = spark_home()
    folder.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "SPARK_HOME": str(home), "SPARK_DAEMON_MEMORY": "256m", "SPARK_LOCAL_IP": "127.0.0.1",
           "SPARK_NO_DAEMONIZE": "1", "SPARK_LOG_DIR": str(folder), "SPARK_WORKER_DIR": str(folder / "work")}
    port = free_port()
    url = f"spark://127.0.0.1:{port}"
    spark_class = str(home / "bin" / "spark-class")
    cluster = Cluster(url, [], [])
    try:
        master_log = folder / "master.log"
        with open(master_log, "wb") as out:
            master = subprocess.Popen(
                [spark_class, "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", str(port),
                 "--webui-port", str(free_port())],
                stdout=out, stderr=subprocess.STDOUT, env=env, cwd=folder)
        cluster.processes.append(master)
        cluster.logs.append(master_log)
        _wait_for(master_log, "I have been elected leader", master, timeout)
        for number in range(1, workers + 1):
            worker_log = folder / f"worker-{number}.log"
            with open(worker_log, "wb") as out:
                worker = subprocess.Popen(
                    [spark_class, "org.apache.spark.deploy.worker.Worker", url, "--host", "127.0.0.1", "--cores", "1",
                     "--memory", worker_memory, "--webui-port", str(free_port()),
                     "--work-dir", str(folder / f"work-{number}")],
                    stdout=out, stderr=subprocess.STDOUT, env=env, cwd=folder)
            cluster.processes.append(worker)
            cluster.logs.append(worker_log)
        for worker, worker_log in zip(cluster.processes[1:], cluster.logs[1:]):
            _wait_for(worker_log, "Successfully registered with master", worker, timeout)
    except BaseException:
        cluster.stop()
        raise
    return cluster
