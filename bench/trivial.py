"""Baseline workflows for the benchmarks: the least a workflow can cost on the same worker."""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity, workflow

NOOP_TIMEOUT = timedelta(seconds=30)


@activity.defn(name="bench_noop")
async def noop(value: str) -> str:
    return value


@workflow.defn(name="BenchTrivialWorkflow")
class TrivialWorkflow:
    """One no-op (regular) activity: the baseline of the workflow-path ratio."""

    @workflow.run
    async def run(self, value: str) -> str:
        result: str = await workflow.execute_activity(
            noop, value, start_to_close_timeout=NOOP_TIMEOUT
        )
        return result


@workflow.defn(name="BenchLocalTrivialWorkflow")
class LocalTrivialWorkflow:
    """One no-op local activity (the product's create path is a local activity)."""

    @workflow.run
    async def run(self, value: str) -> str:
        result: str = await workflow.execute_local_activity(
            noop, value, start_to_close_timeout=NOOP_TIMEOUT
        )
        return result


@workflow.defn(name="BenchEmptyWorkflow")
class EmptyWorkflow:
    """No activity at all: one workflow task."""

    @workflow.run
    async def run(self, value: str) -> str:
        return value


BASELINE_WORKFLOWS = [TrivialWorkflow, LocalTrivialWorkflow, EmptyWorkflow]
