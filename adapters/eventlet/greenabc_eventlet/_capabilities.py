"""What the eventlet backend can do, stated as data."""

from __future__ import annotations

from greenabc.interfaces import Capabilities

CAPABILITIES = Capabilities(
    is_green=True,
    # A handler runs between bytecodes of whatever green thread (or the hub)
    # is running, possibly while the core holds its state lock.
    signal_safe=False,
    can_interrupt=True,
    # Patched blocking calls wait in the hub, so an interrupt lands at once;
    # an unpatched C call blocks the whole hub instead (see the notes).
    can_interrupt_blocking_calls=True,
    can_detect_blocking=True,
    can_patch=True,
    notes=(
        "interrupts (kill, timeouts) reach a green thread when it next yields to the hub;"
        " an unpatched call that blocks in C blocks the whole hub until it returns",
        "timer callbacks run in the hub: they must not block; spawn from them for more",
        "blocking detection watches the hub of the thread that starts it from a real"
        " OS thread (no SIGALRM); the report comes when the hub runs again",
        "eventlet cannot patch signal or sys; it patches socket+ssl, threading+queue"
        " and select+selectors together",
        "in signal handlers write with patcher.signal_safe_write (the unpatched"
        " os.write): a handler may run inside the hub (celery#10083)",
    ),
)
