"""A guest process: a Machine, its Linux platform and inputs, with state capture and restore."""

from __future__ import annotations

from typing import TYPE_CHECKING, Generic, TypeVar

from ttdbg.snapshots.state import MachineState

from .filestore import FileStore
from .inputs import Inputs
from .linux.host import HostIO
from .linux.platform import Console, LinuxPlatform
from .linux.threads import SchedulePolicy
from .loader import Program
from .machine import Halt, Machine
from .machinestate import capture, restore_memory, restore_registers
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

    def run(self, n: int) -> RunOutcome:
        """Run at most `n` instructions and say why the run ended."""
        m, plat = self.machine, self.platform
        halt = m.run(n)
        return classify(
            m.icount, halt == Halt.EXITED, halt == Halt.STOPPED, plat.error, plat.end_of_log
        )

    def capture(self, cursor: int, share_with: MachineState | None = None) -> MachineState:
        return capture(self.machine, self.platform.to_state(), cursor, share_with)

    def restore(self, state: MachineState) -> None:
        """Put the process exactly in `state` (the inputs' cursor is the caller's job)."""
        restore_memory(self.machine, state)
        restore_registers(self.machine, state)
        self.platform.load_state(state.platform)
