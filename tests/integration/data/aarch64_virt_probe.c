/* Reads what firmware sees at reset on QEMU's AArch64 virt (system registers, GICv2, PL011
 * ID and reset values, PSCI results) and prints it: the test runs it on qemu-system-aarch64
 * and on ttdbg and compares the two outputs line by line. */
#include <stdint.h>
#define UART_DR (*(volatile uint32_t *)0x09000000UL)
#define REG32(a) (*(volatile uint32_t *)(uintptr_t)(a))
static void putc_(char c){ UART_DR = (uint32_t)c; }
static void puts_(const char*s){ while(*s) putc_(*s++); }
static void puthex(uint64_t v){ puts_("0x"); for(int i=60;i>=0;i-=4){ putc_("0123456789abcdef"[(v>>i)&15]); } }
#define SHOW(name, expr) do { uint64_t v_; v_ = (expr); puts_(name " "); puthex(v_); puts_("\n"); } while (0)
#define MRS(r) ({ uint64_t v; __asm__ volatile("mrs %0, " #r : "=r"(v)); v; })
static uint64_t psci(uint64_t fn, uint64_t a1){ register uint64_t x0 __asm__("x0") = fn; register uint64_t x1 __asm__("x1") = a1; __asm__ volatile("hvc #0" : "+r"(x0) : "r"(x1) : "memory"); return x0; }
void main(void){
  SHOW("currentel", MRS(CurrentEL));
  SHOW("daif", MRS(daif));
  SHOW("spsel", MRS(spsel));
  SHOW("cpacr", MRS(cpacr_el1));
  SHOW("sctlr", MRS(sctlr_el1));
  SHOW("cntfrq", MRS(cntfrq_el0));
  SHOW("cntkctl", MRS(cntkctl_el1));
  SHOW("cntv_ctl", MRS(cntv_ctl_el0));
  SHOW("cntp_ctl", MRS(cntp_ctl_el0));
  SHOW("cntv_cval", MRS(cntv_cval_el0));
  SHOW("cntp_cval", MRS(cntp_cval_el0));
  SHOW("midr", MRS(midr_el1));
  SHOW("mpidr", MRS(mpidr_el1));
  SHOW("pfr0", MRS(id_aa64pfr0_el1));
  SHOW("vbar", MRS(vbar_el1));
  SHOW("psci_version", psci(0x84000000, 0));
  SHOW("psci_features_off", psci(0x8400000A, 0x84000008));
  SHOW("psci_migrate_info", psci(0x84000006, 0));
  SHOW("psci_affinity_info", psci(0xC4000004, 0));
  SHOW("psci_unknown", psci(0x84000042, 0));
  for (uint32_t off = 0; off < 0xc; off += 4) { puts_("gicd "); puthex(off); puts_(" "); puthex(REG32(0x08000000 + off)); puts_("\n"); }
  for (uint32_t off = 0xfd0; off < 0x1000; off += 4) { puts_("gicd "); puthex(off); puts_(" "); puthex(REG32(0x08000000 + off)); puts_("\n"); }
  uint32_t offs[] = {0x80, 0x84, 0x100, 0x104, 0x400, 0x41c, 0x800, 0x81c, 0x820, 0xc00, 0xc04, 0xc08};
  for (unsigned i = 0; i < sizeof offs / 4; i++) { puts_("gicd "); puthex(offs[i]); puts_(" "); puthex(REG32(0x08000000 + offs[i])); puts_("\n"); }
  REG32(0x08000400 + 32) = 0xffffffff; SHOW("prio33 after ff", REG32(0x08000420));
  REG32(0x08000800 + 32) = 0xffffffff; SHOW("target33 after ff", REG32(0x08000820));
  REG32(0x08000c08) = 0xffffffff; SHOW("icfgr2 after ff", REG32(0x08000c08));
  REG32(0x08000c04) = 0xffffffff; SHOW("icfgr1 after ff", REG32(0x08000c04));
  REG32(0x08000080) = 0xffffffff; SHOW("igroup0 after ff", REG32(0x08000080));
  REG32(0x08000000) = 0xffffffff; SHOW("gicd_ctlr after ff", REG32(0x08000000));
  uint32_t coffs[] = {0x0, 0x4, 0x8, 0xc, 0x14, 0x18, 0x1c, 0xd0, 0xfc};
  for (unsigned i = 0; i < sizeof coffs / 4; i++) { puts_("gicc "); puthex(coffs[i]); puts_(" "); puthex(REG32(0x08010000 + coffs[i])); puts_("\n"); }
  REG32(0x08010004) = 0xff; SHOW("pmr after ff", REG32(0x08010004));
  REG32(0x08010008) = 0x0; SHOW("bpr after 0", REG32(0x08010008));
  REG32(0x0801001c) = 0x0; SHOW("abpr after 0", REG32(0x0801001c));
  REG32(0x08010000) = 0xffffffff; SHOW("gicc_ctlr after ff", REG32(0x08010000));
  for (uint32_t off = 0xfe0; off < 0x1000; off += 4) { puts_("uart "); puthex(off); puts_(" "); puthex(REG32(0x09000000 + off)); puts_("\n"); }
  uint32_t uoffs[] = {0x18, 0x24, 0x28, 0x2c, 0x30, 0x34, 0x38, 0x3c, 0x40, 0x48};
  for (unsigned i = 0; i < sizeof uoffs / 4; i++) { puts_("uart "); puthex(uoffs[i]); puts_(" "); puthex(REG32(0x09000000 + uoffs[i])); puts_("\n"); }

  SHOW("x0=0", psci(0, 0));
  SHOW("x0=0x12345", psci(0x12345, 0));
  SHOW("cpu_on", psci(0xC4000003, 1));
  SHOW("cpu_on self", psci(0xC4000003, 0x80000000)); SHOW("cpu_on 0", psci(0xC4000003, 0)); SHOW("affinity 1", psci(0xC4000004, 1)); SHOW("system_suspend", psci(0xC400000E, 0x40000000)); SHOW("cpu_on32 ", psci(0x84000003, 1)); SHOW("cpu_suspend bad", psci(0xC4000001, 0xffffffff));
    SHOW("features version", psci(0x8400000A, 0x84000000));
  SHOW("features cpu_on", psci(0x8400000A, 0xC4000003));
  SHOW("features smc32 off", psci(0x8400000A, 0x84000009));
  SHOW("features 0x8400000A", psci(0x8400000A, 0x8400000A));
  SHOW("features 1", psci(0x8400000A, 1));
  psci(0x84000008, 0);
}
