/* Native thread switching while recording: futex wait and wake, and the hand-over to the next
 * thread, without a Python call per syscall.
 *
 * Python's thread table (linux/threads.py) stays the truth. When a recording with threads is
 * in a plain state (no signal pending for any thread, no wait the host ends, round robin),
 * Python copies the table here and arms this; the syscall hook then answers FUTEX_WAIT,
 * FUTEX_WAIT_BITSET, FUTEX_WAKE and FUTEX_WAKE_BITSET itself (no timeout, nothing unusual) and,
 * when the caller blocks and another thread can run, switches threads exactly as the Python
 * scheduler would: the same round-robin pick, the same SWITCH event (buffered here), the same
 * registers. Anything else goes to Python's hook, which first copies the table back and
 * disarms this; so does every return from the emulator.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define TS_MAX_THREADS 64
#define TS_MAX_REGS 96
#define TS_SLOT 16
#define TS_MAX_EVENTS 4096

typedef int (*ts_batch_fn)(void *uc, int *ids, void **vals, int count);
typedef int (*ts_reg_fn)(void *uc, int regid, const void *value);
typedef int (*ts_mem_fn)(void *uc, uint64_t addr, void *buf, uint64_t size);
typedef int (*ts_stop_fn)(void *uc);
typedef int (*ts_ctx_fn)(void *uc, void *ctx);
typedef void (*ts_syscall_cb)(void *uc, void *data);
typedef void (*ts_intr_cb)(void *uc, uint32_t intno, void *data);

enum { TS_RUNNABLE = 0, TS_FUTEX = 1, TS_EXITED = 2, TS_OTHER_WAIT = 3 };
enum { TS_CHANGED = 1 };
enum { WHY_BLOCK = 1 };
#define TS_ANY_BITSET 0xFFFFFFFFu

typedef struct {
    int64_t tid;
    uint32_t state;
    uint32_t bitset;
    uint64_t addr;
    uint64_t seq;
    uint32_t flags;
    uint32_t pad;
} ts_thread;

typedef struct {
    uint64_t icount;
    int64_t from, to;
    uint64_t why;
} ts_event;

typedef struct {
    /* set by Python */
    uint64_t *icount; /* the block counter's count and limit */
    uint64_t *limit;
    uint32_t armed;
    uint32_t nthreads;
    uint32_t current; /* index into threads */
    uint32_t trap;    /* 1: the hook sees pc past the syscall (svc, ecall); 0: on it (x86) */
    int64_t futex_nr;
    uint64_t insn_size;
    uint64_t quantum;
    uint64_t slice_end;
    uint64_t target; /* the current run's goal */
    uint64_t wait_seq;
    int32_t call_ids[8]; /* the number and six arguments (one spare) */
    int32_t result_id;
    uint32_t result_slot; /* the result register's slot in a thread's registers */
    uint32_t pc_slot;
    uint32_t nregs;
    uint32_t syscall_intno;
    uint32_t pad;
    int32_t reg_ids[TS_MAX_REGS];
    void *reg_ptrs[TS_MAX_REGS];
    ts_batch_fn read_batch, write_batch;
    ts_reg_fn reg_write;
    ts_mem_fn mem_read;
    ts_stop_fn emu_stop;
    ts_ctx_fn context_save;
    void *resv_ctx;              /* a saved context the reservation is read from, or NULL */
    const uint64_t *resv_field;  /* its reserved-address field inside resv_ctx */
    ts_syscall_cb py_syscall;    /* Python's hooks, for everything not answered here */
    ts_intr_cb py_intr;
    /* counted here since Python armed it */
    uint64_t ops;
    uint64_t switches;
    uint64_t nevents;
    ts_event events[TS_MAX_EVENTS];
    ts_thread threads[TS_MAX_THREADS];
    uint8_t slots[TS_MAX_THREADS][TS_MAX_REGS * TS_SLOT];
} ts_sched;

uint64_t ts_sizeof(void) { return sizeof(ts_sched); }

static void ts_save_regs(void *uc, ts_sched *s, uint8_t *slots) {
    for (uint32_t i = 0; i < s->nregs; i++) s->reg_ptrs[i] = slots + (size_t)i * TS_SLOT;
    memset(slots, 0, (size_t)s->nregs * TS_SLOT);
    s->read_batch(uc, s->reg_ids, s->reg_ptrs, (int)s->nregs);
}

/* Load `slots` into the CPU, which holds `current` (just saved): only the registers that
 * differ are written (a segment register write alone reloads its descriptor). */
static void ts_load_regs(void *uc, ts_sched *s, uint8_t *slots, const uint8_t *current) {
    int ids[TS_MAX_REGS];
    int n = 0;
    for (uint32_t i = 0; i < s->nregs; i++) {
        size_t off = (size_t)i * TS_SLOT;
        if (memcmp(slots + off, current + off, TS_SLOT)) {
            ids[n] = s->reg_ids[i];
            s->reg_ptrs[n++] = slots + off;
        }
    }
    if (n) s->write_batch(uc, ids, s->reg_ptrs, n);
}

static uint64_t ts_slot_u64(const uint8_t *slots, uint32_t slot) {
    uint64_t v;
    memcpy(&v, slots + (size_t)slot * TS_SLOT, 8);
    return v;
}

static void ts_set_slot_u64(uint8_t *slots, uint32_t slot, uint64_t v) {
    memset(slots + (size_t)slot * TS_SLOT, 0, TS_SLOT);
    memcpy(slots + (size_t)slot * TS_SLOT, &v, 8);
}

static void ts_set_result(void *uc, ts_sched *s, int64_t result) {
    uint64_t v = (uint64_t)result;
    s->reg_write(uc, s->result_id, &v);
}

/* Whether a thread other than the running one runs now (every wait here is a plain futex or
 * one only Python ends, none with a host deadline: Python arms this only then). */
static bool ts_others_runnable(const ts_sched *s) {
    for (uint32_t i = 0; i < s->nthreads; i++)
        if (i != s->current && s->threads[i].state == TS_RUNNABLE) return true;
    return false;
}

/* As the machine's `_after_syscall` and `rearm`: stop the run at its goal or at the end of
 * the running thread's quantum when another thread could run then. */
static void ts_rearm(void *uc, ts_sched *s, bool handed_over) {
    uint64_t due = ts_others_runnable(s) ? s->slice_end : UINT64_MAX;
    if (handed_over)
        *s->limit = due < s->target ? due : s->target;
    else if (due <= *s->icount)
        s->emu_stop(uc); /* a switch is due right after this call */
    else if (due < *s->limit)
        *s->limit = due;
}

/* The running thread waits: hand the CPU to the next runnable thread in tid order after it
 * (round robin), as Threads.settle/_choose/switch_to do. False: nothing done (Python's turn). */
static bool ts_hand_over(void *uc, ts_sched *s) {
    if (s->nevents >= TS_MAX_EVENTS) return false;
    if (s->resv_ctx) {
        if (s->context_save(uc, s->resv_ctx)) return false;
        if (*s->resv_field != UINT64_MAX) return false; /* a reservation held: Python clears it */
    }
    int64_t cur_tid = s->threads[s->current].tid;
    int64_t best_after = INT64_MAX, best_any = INT64_MAX;
    uint32_t after_i = UINT32_MAX, any_i = UINT32_MAX;
    for (uint32_t i = 0; i < s->nthreads; i++) {
        const ts_thread *t = &s->threads[i];
        if (i == s->current || t->state != TS_RUNNABLE) continue;
        if (t->tid > cur_tid && t->tid < best_after) best_after = t->tid, after_i = i;
        if (t->tid < best_any) best_any = t->tid, any_i = i;
    }
    uint32_t to = after_i != UINT32_MAX ? after_i : any_i;
    if (to == UINT32_MAX) return false; /* every thread waits: the host decides */
    uint64_t now = *s->icount;
    ts_thread *old = &s->threads[s->current], *new = &s->threads[to];
    ts_event *ev = &s->events[s->nevents++];
    ev->icount = now;
    ev->from = old->tid;
    ev->to = new->tid;
    ev->why = WHY_BLOCK;
    uint8_t *o = s->slots[s->current], *n = s->slots[to];
    ts_save_regs(uc, s, o);
    if (!s->trap) {
        /* x86: the hook runs with rip on the syscall and Unicorn adds its length when the hook
         * returns: the new thread's pc is set that much short, the saved one goes on past it. */
        ts_set_slot_u64(n, s->pc_slot, ts_slot_u64(n, s->pc_slot) - s->insn_size);
        ts_load_regs(uc, s, n, o);
        ts_set_slot_u64(n, s->pc_slot, ts_slot_u64(n, s->pc_slot) + s->insn_size);
        ts_set_slot_u64(o, s->pc_slot, ts_slot_u64(o, s->pc_slot) + s->insn_size);
    } else {
        ts_load_regs(uc, s, n, o);
    }
    old->flags |= TS_CHANGED;
    new->flags |= TS_CHANGED;
    s->current = to;
    s->switches++;
    s->slice_end = now + s->quantum;
    ts_rearm(uc, s, true);
    return true;
}

/* Wake up to `count` waiters of the futex at addr whose bitset matches, oldest first. */
static int64_t ts_wake(ts_sched *s, uint64_t addr, uint64_t count, uint32_t bitset) {
    int64_t woken = 0;
    while ((uint64_t)woken < count) {
        ts_thread *oldest = NULL;
        uint32_t oi = 0;
        for (uint32_t i = 0; i < s->nthreads; i++) {
            ts_thread *t = &s->threads[i];
            if (t->state == TS_FUTEX && t->addr == addr && (t->bitset & bitset) &&
                (!oldest || t->seq < oldest->seq))
                oldest = t, oi = i;
        }
        if (!oldest) break;
        oldest->state = TS_RUNNABLE;
        oldest->flags |= TS_CHANGED;
        ts_set_slot_u64(s->slots[oi], s->result_slot, 0);
        woken++;
    }
    return woken;
}

enum { FUTEX_WAIT = 0, FUTEX_WAKE = 1, FUTEX_WAIT_BITSET = 9, FUTEX_WAKE_BITSET = 10 };

/* A futex call answered here; false leaves it (untouched) to Python. */
static bool ts_futex(void *uc, ts_sched *s) {
    uint64_t v[7];
    void *ptrs[7];
    for (int i = 0; i < 7; i++) ptrs[i] = &v[i];
    if (s->read_batch(uc, s->call_ids, ptrs, 7)) return false;
    if ((int64_t)v[0] != s->futex_nr) return false;
    uint64_t addr = v[1], op = v[2] & 0x7F, val = v[3] & 0xFFFFFFFFu, timeout = v[4];
    uint32_t bitset = TS_ANY_BITSET;
    if (addr % 4) return false;
    if (op == FUTEX_WAIT_BITSET || op == FUTEX_WAKE_BITSET) bitset = (uint32_t)v[6];
    if (!bitset) return false;
    if (op == FUTEX_WAKE || op == FUTEX_WAKE_BITSET) {
        uint64_t count = val > 0 && val < (1ULL << 31) ? val : 1; /* the kernel wakes one */
        ts_set_result(uc, s, ts_wake(s, addr, count, bitset));
        s->ops++;
        ts_rearm(uc, s, false);
        return true;
    }
    if ((op != FUTEX_WAIT && op != FUTEX_WAIT_BITSET) || timeout) return false;
    uint32_t word;
    if (s->mem_read(uc, addr, &word, 4)) return false;
    if (word != val) {
        ts_set_result(uc, s, -11); /* EAGAIN */
        s->ops++;
        ts_rearm(uc, s, false);
        return true;
    }
    ts_thread *t = &s->threads[s->current];
    t->state = TS_FUTEX;
    t->addr = addr;
    t->bitset = bitset;
    t->seq = ++s->wait_seq;
    if (!ts_hand_over(uc, s)) {
        t->state = TS_RUNNABLE; /* as it was: Python takes the call from the start */
        s->wait_seq--;
        return false;
    }
    s->ops++;
    return true;
}

void ts_syscall_hook(void *uc, ts_sched *s) {
    if (!s->armed || !ts_futex(uc, s)) s->py_syscall(uc, s);
}

void ts_intr_hook(void *uc, uint32_t intno, ts_sched *s) {
    if (intno != s->syscall_intno || !s->armed || !ts_futex(uc, s)) s->py_intr(uc, intno, s);
}
