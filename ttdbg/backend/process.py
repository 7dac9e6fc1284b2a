"""A guest process: a Machine, its Linux platform and inputs, with state capture and restore."""

from __future__ import annotations

from typing import TYPE_CHECKING, Generic, TypeVar

from ttdbg.snapshots.state import MachineState, PageSummary

from .filestore import FileStore
from .inputs import Inputs
from .linux.host import HostIO
from .linux.platform import Console, LinuxPlatform
from .linux.threads import SchedulePolicy
from .loader import Program
from .machine import Halt, Machine
from .machinestate import capture, restore_memory, restore_registers, summarize
from .runoutcome import RunOutcome, classify

if TYPE_CHECKING:
    from .machines import MachineSpec
    from .machines.serialinput import SerialInput

InputsT = TypeVar("InputsT", bound=Inputs)


class GuestProcess(Generic[InputsT]):
    """The guest as it runs: CPU and memory (`machine`) plus its OS state (`platform`)."""

    def __init__(
        self,
        program: Program,
        inputs: InputsT,
        host: HostIO | None = None,
        console: Console | None = None,
        files: FileStore | None = None,
        schedule: SchedulePolicy | None = None,
        spec: MachineSpec | None = None,
        serial_in: SerialInput | None = None,
    ) -> None:
        self.program = program
        self.inputs = inputs
        self.firmware = spec is not None
        self.platform: LinuxPlatform
        if spec is not None:
            from .machines.platform import FirmwarePlatform

            firmware = FirmwarePlatform(spec, program, inputs, console, serial_in)
            # It provides what the recorder, replayer and timeline use of a platform (start,
            # state, exit, error, threads); Linux-only views check `firmware` first.
            self.platform = firmware  # type: ignore[assignment]
            self.machine = firmware.m
        else:
            self.machine = Machine(program.arch)
            self.platform = LinuxPlatform(
                self.machine, program, inputs, host, console, files, schedule
            )

    def run(self, n: int, exact: bool = True) -> RunOutcome:
        """Run at most `n` instructions (not `exact`: perhaps ending at the last block
        boundary before) and say why the run ended."""
        return self._outcome(self.machine.run(n, exact))

    def deliver_due_async(self) -> RunOutcome:
        """Take an asynchronous event due right here, without running an instruction (a
        signal from outside that ended the program at the very end of a recording)."""
        self.machine.deliver_due_async()
        return self._outcome(Halt.EXITED if self.machine.halted is not None else Halt.COUNT)

    def _outcome(self, halt: Halt) -> RunOutcome:
        m, plat = self.machine, self.platform
        exited = halt == Halt.EXITED
        return classify(
            m.icount, exited, halt == Halt.STOPPED, plat.error, plat.end_of_log,
            (plat.exit_status, plat.exit_signal) if exited else (None, None),
            plat.host_signal is not None,
        )  # fmt: skip

    def capture(self, cursor: int, share_with: MachineState | None = None) -> MachineState:
        return capture(self.machine, self.platform.to_state(), cursor, share_with)

    def summarize(self, cursor: int, previous: PageSummary | None = None) -> PageSummary:
        """The state now, its pages as digests (what a recorder keeps between snapshots)."""
        return summarize(self.machine, self.platform.to_state(), cursor, previous)

    def restore(
        self, state: MachineState, exit_outcome: tuple[int | None, int | None] = (None, None)
    ) -> None:
        """Put the process exactly in `state` (the inputs' cursor is the caller's job), with
        nothing left of the last run: `exit_outcome` is the guest's (status, signal), which
        holds if the state is past its end."""
        restore_memory(self.machine, state)
        restore_registers(self.machine, state)
        self.platform.load_state(state.platform)
        self.platform.reset(exit_outcome if state.halted else (None, None))
        self.machine.set_halted(state.halted)
