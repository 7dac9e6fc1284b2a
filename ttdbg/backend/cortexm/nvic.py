"""The ARMv7-M exception state: enable, pending, active and priority of every exception, as
the NVIC and the System Control Block hold them, and which one the CPU takes next."""

from __future__ import annotations

from dataclasses import dataclass, field

# Exception numbers of ARMv7-M (B1.5.2); external interrupt n is exception 16 + n.
RESET, NMI, HARDFAULT, MEMMANAGE, BUSFAULT, USAGEFAULT = 1, 2, 3, 4, 5, 6
SVCALL, DEBUGMONITOR, PENDSV, SYSTICK = 11, 12, 14, 15
FIRST_IRQ = 16

# Exceptions with a fixed priority; every other one has a programmable priority byte.
FIXED_PRIORITY = {RESET: -3, NMI: -2, HARDFAULT: -1}
# The system exceptions whose priority lives in SHPR1-3, by their byte in those registers.
SHPR_EXCEPTIONS = frozenset(
    {MEMMANAGE, BUSFAULT, USAGEFAULT, SVCALL, DEBUGMONITOR, PENDSV, SYSTICK}
)
# System exceptions that are always enabled (the configurable faults depend on SHCSR).
# DebugMonitor is enabled by DEMCR.MON_EN, which stays clear (setting it stops the run).
ALWAYS_ENABLED = frozenset({NMI, HARDFAULT, SVCALL, PENDSV, SYSTICK})
SHCSR_ENABLE_BITS = {MEMMANAGE: 1 << 16, BUSFAULT: 1 << 17, USAGEFAULT: 1 << 18}

NO_PRIORITY = 256  # higher (less urgent) than any programmable priority


@dataclass
class ExceptionState:
    """The NVIC's state: one flag set per attribute, priorities as the bytes the guest wrote
    (only the implemented top bits kept), and AIRCR.PRIGROUP."""

    num_irq: int
    priority_bits: int
    enabled: set[int] = field(default_factory=set)  # exception numbers
    pending: set[int] = field(default_factory=set)
    active: set[int] = field(default_factory=set)
    priority: dict[int, int] = field(default_factory=dict)  # programmable ones; absent: 0
    prigroup: int = 0
    shcsr_enables: int = 0
    levels: set[int] = field(default_factory=set)  # external interrupt lines held high

    def __post_init__(self) -> None:
        if not 0 < self.priority_bits <= 8:
            raise ValueError("priority_bits must be 1..8")

    # -- priorities -----------------------------------------------------------------------

    @property
    def priority_mask(self) -> int:
        return (0xFF << (8 - self.priority_bits)) & 0xFF

    def set_priority(self, number: int, value: int) -> None:
        if number in FIXED_PRIORITY:
            return
        self.priority[number] = value & self.priority_mask

    def raw_priority(self, number: int) -> int:
        fixed = FIXED_PRIORITY.get(number)
        return fixed if fixed is not None else self.priority.get(number, 0)

    def group_priority(self, number: int) -> int:
        """The priority that decides preemption: the subpriority bits (AIRCR.PRIGROUP)
        cleared (B1.5.4)."""
        prio = self.raw_priority(number)
        if prio < 0:
            return prio
        return prio & ~((2 << self.prigroup) - 1)

    def is_valid(self, number: int) -> bool:
        return (
            number in (NMI, HARDFAULT, SVCALL, PENDSV, SYSTICK, DEBUGMONITOR)
            or (MEMMANAGE <= number <= USAGEFAULT)
            or FIRST_IRQ <= number < FIRST_IRQ + self.num_irq
        )

    def is_enabled(self, number: int) -> bool:
        if number in ALWAYS_ENABLED:
            return True
        bit = SHCSR_ENABLE_BITS.get(number)
        if bit is not None:
            return bool(self.shcsr_enables & bit)
        return number in self.enabled

    # -- execution priority (B1.5.4 ExecutionPriority) ------------------------------------

    def execution_priority(self, primask: int, faultmask: int, basepri: int) -> int:
        highest = min((self.group_priority(n) for n in self.active), default=NO_PRIORITY)
        boosted = NO_PRIORITY
        basepri &= self.priority_mask
        if basepri:
            boosted = basepri & ~((2 << self.prigroup) - 1)
        if primask & 1:
            boosted = 0
        if faultmask & 1:
            boosted = -1
        return min(highest, boosted)

    def next_pending(self) -> int | None:
        """The pending, enabled exception of highest priority (lowest priority value, then
        lowest number), or None."""
        ready = [n for n in self.pending if self.is_enabled(n)]
        if not ready:
            return None
        return min(ready, key=lambda n: (self.raw_priority(n), n))

    def takeable(self, primask: int, faultmask: int, basepri: int) -> int | None:
        """The exception the CPU takes at the next instruction boundary, or None: the next
        pending one, when its group priority is higher than the execution priority."""
        number = self.next_pending()
        if number is None:
            return None
        if self.group_priority(number) < self.execution_priority(primask, faultmask, basepri):
            return number
        return None

    def set_level(self, number: int, high: bool) -> None:
        """An interrupt line: a rising edge makes it pending (QEMU's NVIC does the same)."""
        if high and number not in self.levels:
            self.levels.add(number)
            self.pending.add(number)
        elif not high:
            self.levels.discard(number)

    # -- entry and return -----------------------------------------------------------------

    def acknowledge(self, number: int) -> None:
        """Exception entry: the exception becomes active and stops pending."""
        self.pending.discard(number)
        self.active.add(number)

    def complete(self, number: int) -> bool | None:
        """Exception return from `number`: deactivate it. Returns whether no other exception
        is still active (the architecture's RetToBase), or None when `number` was not active
        (an illegal return)."""
        if number not in self.active:
            return None
        self.active.discard(number)
        if number in self.levels:
            self.pending.add(number)  # still held high: pending again
        return not self.active

    def reset(self) -> None:
        self.enabled.clear()
        self.pending.clear()
        self.active.clear()
        self.priority.clear()
        self.prigroup = 0
        self.shcsr_enables = 0
        self.levels.clear()

    # -- snapshots --------------------------------------------------------------------------

    def state(self) -> dict[str, object]:
        return {
            "enabled": sorted(self.enabled),
            "pending": sorted(self.pending),
            "active": sorted(self.active),
            "priority": [[n, p] for n, p in sorted(self.priority.items())],
            "prigroup": self.prigroup,
            "shcsr_enables": self.shcsr_enables,
            "levels": sorted(self.levels),
        }

    def restore(self, state: dict[str, object]) -> None:
        def numbers(key: str) -> set[int]:
            values = state[key]
            if not isinstance(values, list) or not all(
                isinstance(n, int) and self.is_valid(n) for n in values
            ):
                raise ValueError(f"bad NVIC {key} in snapshot")
            return set(values)

        pairs = state["priority"]
        if not isinstance(pairs, list) or not all(
            isinstance(p, list | tuple)
            and len(p) == 2
            and all(isinstance(x, int) for x in p)
            and self.is_valid(p[0])
            and 0 <= p[1] <= 0xFF
            for p in pairs
        ):
            raise ValueError("bad NVIC priorities in snapshot")
        prigroup, shcsr = state["prigroup"], state["shcsr_enables"]
        if not isinstance(prigroup, int) or not 0 <= prigroup <= 7:
            raise ValueError("bad NVIC PRIGROUP in snapshot")
        if not isinstance(shcsr, int) or shcsr & ~0x70000:
            raise ValueError("bad SHCSR in snapshot")
        self.enabled = numbers("enabled")
        self.pending = numbers("pending")
        self.active = numbers("active")
        self.levels = numbers("levels")
        self.priority = {int(n): int(p) for n, p in pairs}
        self.prigroup = prigroup
        self.shcsr_enables = shcsr
