"""A stateful property test of the Pool: random interleavings of spawn,
apply_async (with and without timeouts and callbacks), kill, pool kill,
resize, join and sleep, checking after every step and at the end:

- every accepted task ends exactly once with exactly one of callback /
  error_callback / timeout_callback, matching its outcome, and the outcome is
  one the task could have (killed only if it was killed, timed out only with
  a timeout, ...);
- never more task bodies at once than the size bound: after a resize down,
  tasks accepted before it may still run, so a body may see at most the
  largest size the pool had since the oldest task still in a body was
  accepted (all spawns and resizes come from the test's own thread, so
  acceptance is stamped exactly);
- ``stats()`` adds up with the outcomes seen; after a final ``join()`` the
  pool's bookkeeping is empty.
"""

from __future__ import annotations

import itertools
import threading
import time
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

import greenabc

from ._helpers import PROMPT, spin, wait_until

SETTINGS = settings(
    max_examples=15,
    stateful_step_count=20,
    deadline=None,
    database=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.function_scoped_fixture,
        HealthCheck.filter_too_much,
    ],
)

KINDS = st.sampled_from(["ok", "raise", "swallow", "soft"])
DURATIONS = st.sampled_from([0.0, 0.002, 0.005, 0.02])
TIMEOUTS = st.sampled_from([None, None, 0.003, 0.01, 0.05])
SIZES = st.integers(1, 6)


class Boom(Exception):
    pass


class Rec:
    """One accepted task: what it may end as, and the callbacks it got."""

    def __init__(
        self, index: int, kind: str, timeout: float | None, soft: float | None, tcb: bool
    ) -> None:
        self.index = index
        self.kind = kind
        self.timeout = timeout
        self.soft = soft
        self.has_timeout_callback = tcb
        self.callbacks = False
        self.kill_requested = False
        self.accepted_at = 0
        self.calls: list[tuple[str, Any]] = []
        self.task: greenabc.Task[Any] | None = None

    def on_ok(self, value: Any) -> None:
        self.calls.append(("callback", value))

    def on_error(self, exc: BaseException) -> None:
        self.calls.append(("error_callback", exc))

    def on_timeout(self, exc: BaseException) -> None:
        self.calls.append(("timeout_callback", exc))


class PoolMachine(RuleBasedStateMachine):
    backend: greenabc.Backend  # set by the test

    def __init__(self) -> None:
        super().__init__()
        self.size = 3
        self.pool = self.backend.create_pool(self.size)
        self.seq = itertools.count(1)
        self.history: list[tuple[int, int]] = [(0, self.size)]
        self.recs: list[Rec] = []
        self.running: set[int] = set()
        self.violations: list[str] = []
        self.lock = threading.Lock()

    # -- the task body ------------------------------------------------------

    def body(self, rec: Rec, duration: float) -> Any:
        running = self.running
        try:
            running.add(rec.index)  # first in the try, and discard first in finally:
            snapshot = list(running)  # an interrupt anywhere leaves the count right
            if len(snapshot) > self.size:
                self.check_bound(snapshot)
            if rec.kind == "ok":
                spin(duration)
                return rec.index
            if rec.kind == "raise":
                spin(duration)
                raise Boom(rec.index)
            if rec.kind == "swallow":
                end = time.monotonic() + max(duration, 0.01)
                while time.monotonic() < end:
                    try:
                        time.sleep(0.002)
                    except BaseException:
                        pass
                return rec.index
            try:  # soft
                spin(0.05)
            except greenabc.SoftTimeout:
                return ("soft", rec.index)
            return rec.index
        finally:
            running.discard(rec.index)

    def check_bound(self, snapshot: list[int]) -> None:
        oldest = min(self.recs[i].accepted_at for i in snapshot)
        bound = 0
        for seq, size in reversed(self.history):
            bound = max(bound, size)
            if seq <= oldest:
                break
        if len(snapshot) > bound:
            self.violations.append(
                f"{len(snapshot)} bodies at once, bound {bound} (size {self.size})"
            )

    # -- rules --------------------------------------------------------------

    def submit(
        self,
        kind: str,
        duration: float,
        timeout: float | None = None,
        soft: float | None = None,
        callbacks: bool = True,
        tcb: bool = False,
    ) -> None:
        rec = Rec(len(self.recs), kind, timeout, soft, tcb and callbacks)
        rec.accepted_at = next(self.seq)  # no resize can come in before it is accepted
        rec.callbacks = callbacks
        self.recs.append(rec)
        if callbacks:
            rec.task = self.pool.apply_async(
                self.body,
                (rec, duration),
                callback=rec.on_ok,
                error_callback=rec.on_error,
                timeout_callback=rec.on_timeout if tcb else None,
                timeout=timeout,
                soft_timeout=soft,
            )
        elif timeout is None and soft is None:
            rec.task = self.pool.spawn(self.body, rec, duration)
        else:
            rec.task = self.pool.apply_async(
                self.body, (rec, duration), timeout=timeout, soft_timeout=soft
            )

    @rule(kind=KINDS, duration=DURATIONS)
    def spawn(self, kind: str, duration: float) -> None:
        self.submit(kind, duration, callbacks=False)

    @rule(
        kind=KINDS,
        duration=DURATIONS,
        timeout=TIMEOUTS,
        soft=TIMEOUTS,
        callbacks=st.booleans(),
        tcb=st.booleans(),
    )
    def apply_async(
        self,
        kind: str,
        duration: float,
        timeout: float | None,
        soft: float | None,
        callbacks: bool,
        tcb: bool,
    ) -> None:
        if kind == "swallow" and timeout is None:
            timeout = 0.005  # a swallower is always stopped by something
        self.submit(kind, duration, timeout, soft, callbacks, tcb)

    @rule(data=st.data(), block=st.booleans())
    def kill(self, data: st.DataObject, block: bool) -> None:
        if not self.recs:
            return
        rec = self.recs[data.draw(st.integers(0, len(self.recs) - 1), label="task")]
        assert rec.task is not None
        was_ready = rec.task.ready()
        if not was_ready:
            rec.kill_requested = True
        rec.task.kill(block=block, timeout=PROMPT)
        assert rec.task.ready(), "kill() must decide the outcome at once"
        if not was_ready:
            assert rec.task.outcome in ("killed", "timed out", "success", "failure")

    @rule()
    def kill_pool(self) -> None:
        for rec in self.recs:
            assert rec.task is not None
            if not rec.task.ready():
                rec.kill_requested = True
        self.pool.kill(PROMPT)
        for rec in self.recs:
            assert rec.task is not None
            assert rec.task.ready(), f"task {rec.index} undecided after pool.kill()"

    @rule(size=SIZES)
    def resize(self, size: int) -> None:
        if size >= self.size:
            self.history.append((next(self.seq), size))  # bodies may start at once
            self.size = size
            self.pool.resize(size)
        else:
            self.pool.resize(size)
            self.history.append((next(self.seq), size))
            self.size = size
        assert self.pool.size == size

    @rule()
    def join_now(self) -> None:
        if self.pool.join(0):
            stats = self.pool.stats()
            assert stats["accepted"] == 0, stats
            assert stats["running"] == 0, stats

    @rule(seconds=st.sampled_from([0.005, 0.02, 0.05]))
    def join_for(self, seconds: float) -> None:
        self.pool.join(seconds)

    @rule(seconds=st.sampled_from([0.001, 0.005, 0.02]))
    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    # -- invariants ---------------------------------------------------------

    @invariant()
    def bodies_within_the_bound(self) -> None:
        assert not self.violations, self.violations

    @invariant()
    def at_most_one_callback(self) -> None:
        for rec in list(self.recs):
            assert len(rec.calls) <= 1, (rec.index, rec.kind, rec.calls)

    @invariant()
    def stats_add_up(self) -> None:
        before = self.decided(self.pool.stats())
        ready = sum(1 for rec in self.recs if rec.task is not None and rec.task.ready())
        after = self.decided(self.pool.stats())
        assert before <= ready <= after, (before, ready, after)
        assert after <= len(self.recs)

    @staticmethod
    def decided(stats: dict[str, int]) -> int:
        return stats["completed"] + stats["failed"] + stats["timed_out"] + stats["killed"]

    # -- the end ------------------------------------------------------------

    def teardown(self) -> None:
        try:
            self.final_checks()
        finally:
            self.pool.close(timeout=PROMPT)

    def final_checks(self) -> None:
        assert self.pool.join(timeout=10), f"join() timed out: {self.pool.stats()}"
        stats = self.pool.stats()
        assert (stats["accepted"], stats["running"], stats["waiting"]) == (0, 0, 0), stats
        assert not self.running, f"bodies still running after join(): {self.running}"
        assert self.decided(stats) == len(self.recs), (stats, len(self.recs))
        outcomes = {"success": 0, "failure": 0, "timed out": 0, "killed": 0}
        for rec in self.recs:
            assert rec.task is not None
            outcome = rec.task.outcome
            assert outcome is not None, f"task {rec.index} undecided after join()"
            outcomes[outcome] += 1
            self.check_outcome(rec, outcome)
        assert (stats["completed"], stats["failed"], stats["timed_out"], stats["killed"]) == (
            outcomes["success"],
            outcomes["failure"],
            outcomes["timed out"],
            outcomes["killed"],
        ), (stats, outcomes)
        assert not self.violations, self.violations

    def check_outcome(self, rec: Rec, outcome: str) -> None:
        assert rec.task is not None
        allowed = {"killed"} if rec.kill_requested else set()
        if rec.timeout is not None:
            allowed.add("timed out")
        if rec.kind == "raise" or rec.soft is not None:
            allowed.add("failure")  # Boom, or SoftTimeout that escaped
        if rec.kind != "raise":
            allowed.add("success")
        assert outcome in allowed, (rec.index, rec.kind, outcome, allowed, rec.task)
        try:
            value: Any = rec.task.get(timeout=0)
        except BaseException as exc:
            value = exc
        expected_type: type[BaseException] | None = {
            "killed": greenabc.TaskKilled,
            "timed out": greenabc.TaskTimedOut,
        }.get(outcome)
        if outcome == "failure":
            assert isinstance(value, (Boom, greenabc.SoftTimeout)), (rec.index, value)
        elif expected_type is not None:
            assert isinstance(value, expected_type), (rec.index, outcome, value)
        else:
            assert value in (rec.index, ("soft", rec.index)), (rec.index, value)
        if not rec.callbacks:
            assert rec.calls == [], (rec.index, rec.calls)
            return
        # Every callback has run by the end of join() (a kill's runs in kill()).
        assert wait_until(lambda: bool(rec.calls)), f"task {rec.index} ({outcome}) got none"
        assert len(rec.calls) == 1, (rec.index, rec.calls)
        kind, got = rec.calls[0]
        if outcome == "success":
            assert kind == "callback", (rec.index, rec.calls)
        elif outcome == "timed out" and rec.has_timeout_callback:
            assert kind == "timeout_callback", (rec.index, rec.calls)
        else:
            assert kind == "error_callback", (rec.index, outcome, rec.calls)
        assert got is value or got == value, (rec.index, got, value)


def test_pool_state_machine(greenabc_backend: greenabc.Backend) -> None:
    machine = type("PoolMachineOn", (PoolMachine,), {"backend": greenabc_backend})
    run_state_machine_as_test(machine, settings=SETTINGS)
