"""Cortex-M (ARMv7-M) boards: exception model, NVIC, SysTick, the Stellaris UART, the boards."""
