"""The embedded Temporal dev server: starts from the pip-installed binary, registers our search
attributes, persists to <home>/temporal.db across restarts, stops cleanly."""

from __future__ import annotations

import stat
import uuid
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.client import Client, WorkflowExecutionStatus

from ticketing_ops.devstack import (
    SEARCH_ATTRIBUTES,
    START_ATTEMPTS,
    DevServerError,
    TemporalDevServer,
    find_free_port,
    temporal_cli,
)

# What `temporal server start-dev` printed when it lost the race for a port it picked itself
# (a clean-clone CI run): a Go panic, its message first, then the goroutine stacks.
PORT_RACE_PANIC = (
    "panic: failed assigning ephemeral port: failed to assign a free port: "
    "listen tcp 127.0.0.1:0: bind: address already in use"
)


def racing_cli(tmp_path: Path, losses: int) -> tuple[Path, Path]:
    """The real CLI behind a wrapper whose first `losses` runs fail as a lost port race does;
    and the file each run appends a line to."""
    runs = tmp_path / "runs"
    wrapper = tmp_path / "temporal"
    stack = "\n".join(f"\tframe {i}" for i in range(40))
    wrapper.write_text(
        "#!/bin/sh\n"
        f"echo run >> '{runs}'\n"
        f"if [ $(wc -l < '{runs}') -le {losses} ]; then\n"
        f"  printf '%s\\n\\ngoroutine 1 [running]:\\n%s\\n' '{PORT_RACE_PANIC}' '{stack}'\n"
        "  exit 2\n"
        "fi\n"
        f"exec '{temporal_cli()}' \"$@\"\n"
    )
    wrapper.chmod(0o755)
    return wrapper, runs


async def test_dev_server_registers_search_attributes_and_persists(tmp_path: Path) -> None:
    workflow_id = f"persisted-{uuid.uuid4().hex[:8]}"
    first = TemporalDevServer(tmp_path, port=find_free_port(), headless=True)
    async with first as server:
        assert server.running
        client = await Client.connect(server.target_host)
        response = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace="default")
        )
        for name in SEARCH_ATTRIBUTES:
            assert response.custom_attributes[name] == IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD
        # No worker polls this queue: the workflow just stays running, in the SQLite file.
        await client.start_workflow(
            "AnyWorkflowType", id=workflow_id, task_queue=f"nobody-{workflow_id}"
        )
    assert not first.running
    assert (tmp_path / "temporal.db").exists()

    async with TemporalDevServer(tmp_path, port=find_free_port(), headless=True) as server:
        client = await Client.connect(server.target_host)
        description = await client.get_workflow_handle(workflow_id).describe()
        assert description.status == WorkflowExecutionStatus.RUNNING
        assert description.workflow_type == "AnyWorkflowType"


async def test_dev_server_refuses_a_busy_port(tmp_path: Path) -> None:
    async with TemporalDevServer(tmp_path / "a", port=find_free_port(), headless=True) as server:
        clash = TemporalDevServer(tmp_path / "b", port=server.port, headless=True)
        with pytest.raises(DevServerError, match="already in use"):
            await clash.start()
        assert not clash.running


async def test_dev_server_failure_reports_its_output(tmp_path: Path) -> None:
    server = TemporalDevServer(
        tmp_path,
        port=find_free_port(),
        headless=True,
        log_level="no-such-level",
        startup_timeout=10,
    )
    with pytest.raises(DevServerError, match="exited with code"):
        await server.start()
    assert not server.running


async def test_a_start_that_lost_a_port_race_is_tried_again(tmp_path: Path) -> None:
    wrapper, runs = racing_cli(tmp_path, losses=1)
    async with TemporalDevServer(
        tmp_path / "home", port=find_free_port(), headless=True, binary=wrapper
    ) as server:
        await Client.connect(server.target_host)
    assert len(runs.read_text().splitlines()) == 2


async def test_port_races_are_tried_a_bounded_number_of_times(tmp_path: Path) -> None:
    wrapper, runs = racing_cli(tmp_path, losses=START_ATTEMPTS)
    server = TemporalDevServer(
        tmp_path / "home", port=find_free_port(), headless=True, binary=wrapper
    )
    with pytest.raises(DevServerError) as raised:
        await server.start()
    # The panic's message is in the error although 40 stack lines followed it.
    assert PORT_RACE_PANIC in str(raised.value)
    assert len(runs.read_text().splitlines()) == START_ATTEMPTS
    assert not server.running


async def test_any_other_start_failure_is_not_tried_again(tmp_path: Path) -> None:
    wrapper, runs = racing_cli(tmp_path, losses=0)
    server = TemporalDevServer(
        tmp_path, port=find_free_port(), headless=True, log_level="no-such-level", binary=wrapper
    )
    with pytest.raises(DevServerError, match="exited with code"):
        await server.start()
    assert len(runs.read_text().splitlines()) == 1


def test_command_line_carries_the_tuning_flags(tmp_path: Path) -> None:
    command = TemporalDevServer(tmp_path, port=17233, ui_port=18233).command()
    joined = " ".join(command)
    assert f"--db-filename {tmp_path / 'temporal.db'}" in joined
    assert "--ip 127.0.0.1 --port 17233" in joined
    assert "--ui-port 18233" in joined and "--headless" not in command
    assert "--sqlite-pragma journal_mode=wal" in joined
    assert "--dynamic-config-value history.transferProcessorMaxPollRPS=1000" in joined
    assert "--search-attribute TicketPriority=Keyword" in joined
    headless = TemporalDevServer(tmp_path, headless=True).command()
    assert "--headless" in headless and "--ui-port" not in headless


async def test_dev_server_keeps_home_and_history_file_private(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir(mode=0o755)
    home.chmod(0o755)
    async with TemporalDevServer(home, port=find_free_port(), headless=True) as server:
        client = await Client.connect(server.target_host)
        await client.start_workflow("AnyWorkflowType", id="private", task_queue="nobody")
        assert stat.S_IMODE(home.stat().st_mode) & 0o067 == 0
        files = sorted(home.glob("temporal.db*"))
        assert files, "the dev server wrote no SQLite file"
        for path in files:
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    # A history file left world-readable by an older release is closed on the next start.
    (home / "temporal.db").chmod(0o644)
    async with TemporalDevServer(home, port=find_free_port(), headless=True):
        assert stat.S_IMODE((home / "temporal.db").stat().st_mode) == 0o600
