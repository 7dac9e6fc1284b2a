/* Native Unicorn block hook that keeps an exact instruction count at full emulation speed.
 *
 * A Python hook per block costs ~30x the emulation itself, and Unicorn's own `count` argument
 * calls a hook per instruction. This hook adds a block's instruction count (looked up in an
 * open-addressing table) at block entry, and stops the emulator *before* a block that would
 * carry the count past `limit`. A block the table does not know is learned here, with
 * capstone called through the pointers Python hands over (a stop and a Python disassembly per
 * new block cost ~100 us each, a tenth of a replay of the compute sample); a block this cannot
 * learn exactly (its code does not decode to exactly its size, or it holds an instruction
 * Python must hook, a counter read) stops the emulator for Python to learn it. The Python
 * side finishes the last partial block under a per-instruction hook installed over that one
 * block only. The count is therefore exact at every block entry; a stop inside a block is
 * resolved from the block's instruction addresses, which Python disassembles when asked.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/mman.h>

typedef struct {
    uint64_t addr;
    uint32_t size;
    uint32_t n;
} bc_entry;

typedef int (*bc_stop_fn)(void *uc);
typedef int (*bc_mem_fn)(void *uc, uint64_t addr, void *buf, uint64_t size);
/* capstone's cs_disasm_iter: decodes one instruction, advancing code, size and address. */
typedef bool (*bc_disasm_fn)(size_t handle, const uint8_t **code, size_t *size,
                             uint64_t *address, void *insn);

/* Code Python must see before it runs (an instruction it hooks): `len` bytes, little-endian,
 * at every offset that is a multiple of `stride`, masked, equal to `value`. A superset is
 * fine: a block that matches is only left to Python. */
typedef struct {
    uint64_t value, mask;
    uint32_t len, stride;
} bc_pattern;

#define BC_MAX_PATTERNS 8
#define BC_CODE_MAX 16384 /* bytes of a block learned here; a longer one stops for Python */

typedef struct {
    /* the fields bc_block_hook touches on every block, in one cache line */
    uint64_t icount;
    uint64_t limit;
    bc_entry *table;
    uint64_t mask;
    uint64_t block_addr;
    uint64_t block_base;
    uint64_t block_insn; /* instructions of the current block seen by bc_reg_hook */
    void *index;         /* an ix_recorder told of every block entered, or NULL */
    uint32_t block_size;
    uint32_t stop; /* 0 running, 1 unknown block, 2 limit reached */
    uint64_t miss_addr;
    uint32_t miss_size;
    uint32_t learn; /* non-zero: learn unknown blocks here instead of stopping */
    bc_stop_fn emu_stop;
    uint64_t used;
    uint64_t steps;      /* instructions run under bc_insn_hook */
    uint64_t step_limit; /* bc_insn_hook stops before the instruction past this many */
    bc_mem_fn mem_read;
    bc_disasm_fn disasm;
    uint64_t cs_handle;
    void *cs_insn; /* capstone's scratch instruction (cs_malloc) */
    uint8_t *code; /* BC_CODE_MAX bytes */
    uint64_t learned; /* blocks learned here */
    uint32_t npatterns, pad;
    bc_pattern patterns[BC_MAX_PATTERNS];
} bc_counter;

/* One hook dispatch per block is most of a block hook's cost: the index recorder is called
 * from the counter's hook instead of having its own. */
void ix_block_entered(void *uc, uint64_t addr, uint32_t size, void *x);

enum { BC_RUNNING = 0, BC_UNKNOWN_BLOCK = 1, BC_LIMIT = 2, BC_STEPS = 3, BC_HIT = 4 };

static inline uint64_t bc_slot(uint64_t addr) { return (addr * 0x9E3779B97F4A7C15ULL) >> 17; }

int bc_insert(bc_counter *c, uint64_t addr, uint32_t size, uint32_t n);

static bool bc_matches(const bc_pattern *p, const uint8_t *code, uint32_t size) {
    for (uint32_t off = 0; off + p->len <= size; off += p->stride) {
        uint64_t word = 0;
        memcpy(&word, code + off, p->len); /* little-endian hosts only (setup.py) */
        if ((word & p->mask) == p->value) return true;
    }
    return false;
}

/* Learn the block at addr: true when its instructions decode to exactly `size` bytes and
 * none is one Python must see first. */
static __attribute__((noinline)) bool bc_learn(void *uc, bc_counter *c, uint64_t addr, uint32_t size) {
    if (!c->learn || size > BC_CODE_MAX || c->mem_read(uc, addr, c->code, size)) return false;
    for (uint32_t i = 0; i < c->npatterns; i++)
        if (bc_matches(&c->patterns[i], c->code, size)) return false;
    const uint8_t *code = c->code;
    size_t left = size;
    uint64_t at = addr;
    uint32_t n = 0;
    while (left && c->disasm(c->cs_handle, &code, &left, &at, c->cs_insn)) n++;
    if (left || !n || bc_insert(c, addr, size, n)) return false;
    c->learned++;
    return true;
}

/* Unicorn's uc_tb, what its UC_HOOK_EDGE_GENERATED hook is given of a block it has just
 * translated: where it starts, how many instructions and bytes it holds. */
typedef struct {
    uint64_t pc;
    uint16_t icount;
    uint16_t size;
} bc_uc_tb;

uint32_t bc_lookup(bc_counter *c, uint64_t addr, uint32_t size);

/* Learn a block from the emulator's own count when the emulator chains a jump to it (a
 * new edge, mostly right after translating it): most of a short program's blocks are new
 * (a dynamic loader's, a C library's start-up), and disassembling each one again in
 * bc_learn cost a fifth of running it. The hook runs before the block does, so the block
 * hook then finds it known. Blocks reached otherwise (a return, an indirect jump, the
 * first after a start or a restore) and those it leaves alone (a code pattern Python must
 * see, learning off) go the way they always went. Both ways count alike: the emulator's
 * count includes a last instruction it cannot decode (it raises when it runs), and Python
 * counts one there too, where capstone's decoding stops (BlockCounter._instructions). */
void bc_edge_hook(void *uc, const bc_uc_tb *cur, const bc_uc_tb *prev, bc_counter *c) {
    (void)prev;
    uint32_t size = cur->size, n = cur->icount;
    if (!c->learn || !size || !n || size > BC_CODE_MAX || bc_lookup(c, cur->pc, size)) return;
    if (c->npatterns) {
        if (c->mem_read(uc, cur->pc, c->code, size)) return;
        for (uint32_t i = 0; i < c->npatterns; i++)
            if (bc_matches(&c->patterns[i], c->code, size)) return;
    }
    if (bc_insert(c, cur->pc, size, n) == 0) c->learned++;
}

/* Everything but a known block found at its first slot and run whole: probing further,
 * stopping at the limit, learning. Kept out of line so that the common case saves no
 * registers (it runs some 25 million times a second). */
static __attribute__((noinline)) void bc_block_slow(void *uc, uint64_t addr, uint32_t size,
                                                     bc_counter *c) {
    if (size == 0) {
        /* A block the emulator translated as nothing: its first instruction raises as it is
         * reached (RISC-V's all-zero illegal instruction), so none retires and there is
         * nothing to learn; the icount stays that of the instruction, which is where a stop
         * outside the current block resolves (a stop here would come back here forever). */
        return;
    }
    uint64_t h = bc_slot(addr);
    for (;;) {
        bc_entry *e = &c->table[h & c->mask];
        if (e->addr == addr && e->size == size) {
            bc_entry *home = &c->table[bc_slot(addr) & c->mask];
            if (e != home) {
                /* Found past its first slot: swap it there, so that a hot block sharing
                 * that slot with a cold one takes the fast path from now on. Both stay
                 * findable: every slot between the two is full. */
                bc_entry moved = *home;
                *home = *e;
                *e = moved;
                e = home;
            }
            if (c->icount + e->n > c->limit) {
                c->miss_addr = addr;
                c->miss_size = size;
                c->stop = BC_LIMIT;
                c->emu_stop(uc);
                return;
            }
            c->block_addr = addr;
            c->block_size = size;
            c->block_base = c->icount;
            c->block_insn = 0;
            c->icount += e->n;
            if (c->index) ix_block_entered(uc, addr, size, c->index);
            return;
        }
        if (e->size == 0) {
            if (bc_learn(uc, c, addr, size)) {
                h = bc_slot(addr); /* the table may have grown: look again */
                continue;
            }
            c->miss_addr = addr;
            c->miss_size = size;
            c->stop = BC_UNKNOWN_BLOCK;
            c->emu_stop(uc);
            return;
        }
        h++;
    }
}

/* The common case: a known block at its first slot, run whole. */
static inline bool bc_enter_known(bc_counter *c, uint64_t addr, uint32_t size) {
    const bc_entry *e = &c->table[bc_slot(addr) & c->mask];
    uint64_t base = c->icount, next = base + e->n;
    if (!__builtin_expect(e->addr == addr && e->size == size && next <= c->limit, 1))
        return false;
    c->block_addr = addr;
    c->block_size = size;
    c->block_base = base;
    c->block_insn = 0;
    c->icount = next;
    return true;
}

/* GCC pairs the block_addr and block_base stores through a vector register: four
 * instructions for two, on a path of some twenty. */
#if defined(__GNUC__) && !defined(__clang__)
#define BC_HOT __attribute__((optimize("no-tree-slp-vectorize")))
#else
#define BC_HOT
#endif

/* The hook while no index recorder listens: nothing else on the common path. */
BC_HOT void bc_block_hook(void *uc, uint64_t addr, uint32_t size, bc_counter *c) {
    if (!bc_enter_known(c, addr, size)) bc_block_slow(uc, addr, size, c);
}

/* The hook while an index recorder listens (Python swaps the two). */
BC_HOT void bc_block_hook_indexed(void *uc, uint64_t addr, uint32_t size, bc_counter *c) {
    if (bc_enter_known(c, addr, size))
        ix_block_entered(uc, addr, size, c->index);
    else
        bc_block_slow(uc, addr, size, c);
}

/* How many blocks of the table start at addr; the size and count of one of them. */
uint32_t bc_blocks_at(bc_counter *c, uint64_t addr, uint32_t *size, uint32_t *n) {
    uint32_t found = 0;
    for (uint64_t h = bc_slot(addr);; h++) {
        bc_entry *e = &c->table[h & c->mask];
        if (e->size == 0) return found;
        if (e->addr == addr) {
            *size = e->size;
            *n = e->n;
            found++;
        }
    }
}

/* The instruction count of the block (addr, size), or 0 when the table does not know it. */
uint32_t bc_lookup(bc_counter *c, uint64_t addr, uint32_t size) {
    for (uint64_t h = bc_slot(addr);; h++) {
        bc_entry *e = &c->table[h & c->mask];
        if (e->addr == addr && e->size == size) return e->n;
        if (e->size == 0) return 0;
    }
}

/* Per-instruction hook, installed only over one block while finishing a run exactly. */
void bc_insn_hook(void *uc, uint64_t addr, uint32_t size, bc_counter *c) {
    (void)addr;
    (void)size;
    if (c->steps >= c->step_limit) {
        c->stop = BC_STEPS;
        c->emu_stop(uc);
        return;
    }
    c->steps++;
}

/* Watching one register for changes: a hook on every instruction, but in C, so a search for
 * "the next instruction that changed rax" runs at emulator speed instead of Python's. */
typedef int (*bc_reg_read_fn)(void *uc, int regid, void *value);

typedef struct {
    bc_counter *c;
    bc_reg_read_fn reg_read;
    int32_t regid;
    int32_t armed;
    uint64_t mask;
    int64_t after; /* hits whose writer retires at or before this icount are ignored */
    int32_t stop_on_hit;
    int32_t have_last;
    uint64_t last, last_pc;
    uint64_t hits;
    uint64_t hit_icount, hit_pc, hit_old, hit_new; /* the first hit when stopping, else the last */
} bc_regwatch;

void bc_reg_hook(void *uc, uint64_t addr, uint32_t size, bc_regwatch *w) {
    (void)size;
    bc_counter *c = w->c;
    uint64_t icount = c->block_base + c->block_insn; /* before this instruction */
    c->block_insn++;
    if (!w->armed) {
        w->have_last = 0;
        return;
    }
    uint8_t buf[64] = {0};
    uint64_t value;
    w->reg_read(uc, w->regid, buf);
    memcpy(&value, buf, sizeof value);
    value &= w->mask;
    uint64_t last = w->last, last_pc = w->last_pc;
    int had = w->have_last;
    w->last = value;
    w->last_pc = addr;
    w->have_last = 1;
    if (!had || value == last) return;
    uint64_t writer = icount - 1; /* the instruction before this one changed it */
    if ((int64_t)writer + 1 <= w->after) return;
    w->hits++;
    w->hit_icount = writer;
    w->hit_pc = last_pc;
    w->hit_old = last;
    w->hit_new = value;
    if (w->stop_on_hit) {
        w->armed = 0;
        c->icount = icount;
        c->stop = BC_HIT;
        c->emu_stop(uc);
    }
}

static int bc_put(bc_entry *table, uint64_t mask, uint64_t addr, uint32_t size, uint32_t n) {
    uint64_t h = bc_slot(addr);
    for (;;) {
        bc_entry *e = &table[h & mask];
        if (e->size == 0 || (e->addr == addr && e->size == size)) {
            int fresh = e->size == 0;
            e->addr = addr;
            e->size = size;
            e->n = n;
            return fresh;
        }
        h++;
    }
}

int bc_init(bc_counter *c, void *emu_stop) {
    memset(c, 0, sizeof *c);
    c->limit = UINT64_MAX;
    c->emu_stop = (bc_stop_fn)emu_stop;
    c->mask = 4095;
    c->table = calloc(c->mask + 1, sizeof(bc_entry));
    c->code = malloc(BC_CODE_MAX);
    return c->table && c->code ? 0 : -1;
}

int bc_insert(bc_counter *c, uint64_t addr, uint32_t size, uint32_t n) {
    if (size == 0 || n == 0) return -1;
    if ((c->used + 1) * 2 > c->mask + 1) {
        uint64_t mask = c->mask * 2 + 1;
        bc_entry *table = calloc(mask + 1, sizeof(bc_entry));
        if (!table) return -1;
        for (uint64_t i = 0; i <= c->mask; i++)
            if (c->table[i].size) bc_put(table, mask, c->table[i].addr, c->table[i].size, c->table[i].n);
        free(c->table);
        c->table = table;
        c->mask = mask;
    }
    c->used += bc_put(c->table, c->mask, addr, size, n);
    return 0;
}

/* Learn unknown blocks here from now on, skipping those that hold one of `patterns`;
 * -1 (nothing changed) when a pattern is malformed or there are too many. */
int bc_set_learning(bc_counter *c, void *mem_read, void *disasm, uint64_t cs_handle,
                    void *cs_insn, const bc_pattern *patterns, uint32_t npatterns) {
    if (npatterns > BC_MAX_PATTERNS || !mem_read || !disasm || !cs_insn) return -1;
    for (uint32_t i = 0; i < npatterns; i++)
        if (!patterns[i].len || patterns[i].len > 8 || !patterns[i].stride) return -1;
    memcpy(c->patterns, patterns, npatterns * sizeof(bc_pattern));
    c->npatterns = npatterns;
    c->mem_read = (bc_mem_fn)mem_read;
    c->disasm = (bc_disasm_fn)disasm;
    c->cs_handle = cs_handle;
    c->cs_insn = cs_insn;
    c->learn = 1;
    return 0;
}

void bc_clear(bc_counter *c) {
    memset(c->table, 0, (c->mask + 1) * sizeof(bc_entry));
    c->used = 0;
}

void bc_free(bc_counter *c) {
    free(c->table);
    free(c->code);
    c->table = NULL;
    c->code = NULL;
}

/* Page scanning for snapshots: Python loops over 4 KiB slices cost ~5 us a page. */

static int bc_page_is_zero(const uint8_t *page, size_t page_size) {
    const uint64_t *w = (const uint64_t *)page;
    for (size_t i = 0; i < page_size / 8; i++)
        if (w[i]) return 0;
    return 1;
}

/* Indices of the pages of `buf` that hold a non-zero byte; returns how many. */
size_t bc_nonzero_pages(const uint8_t *buf, size_t npages, size_t page_size, uint32_t *out) {
    size_t n = 0;
    for (size_t i = 0; i < npages; i++)
        if (!bc_page_is_zero(buf + i * page_size, page_size)) out[n++] = (uint32_t)i;
    return n;
}

/* Indices of the pages where `a` and `b` differ; returns how many. */
size_t bc_changed_pages(const uint8_t *a, const uint8_t *b, size_t npages, size_t page_size,
                        uint32_t *out) {
    size_t n = 0;
    for (size_t i = 0; i < npages; i++)
        if (memcmp(a + i * page_size, b + i * page_size, page_size)) out[n++] = (uint32_t)i;
    return n;
}

/* Make [start, start + npages pages) hold `want` (NULL entries are zero pages), writing only
 * the pages that differ. `want_len[i]` is the length of the buffer `want[i]` points to and
 * must be exactly page_size: a shorter page is refused before anything is read through it.
 * Returns how many pages were written, -1 if Unicorn failed, -2 if a length or the scratch
 * buffer is wrong (nothing written then). */
int64_t bc_restore_region(void *uc, bc_mem_fn mem_read, bc_mem_fn mem_write, uint64_t start,
                          size_t npages, size_t page_size, const uint8_t *const *want,
                          const size_t *want_len, uint8_t *scratch, size_t scratch_len,
                          const uint8_t *zero, size_t zero_len) {
    if (zero_len != page_size || npages > scratch_len / page_size) return -2;
    for (size_t i = 0; i < npages; i++)
        if (want[i] && want_len[i] != page_size) return -2;
    if (mem_read(uc, start, scratch, (uint64_t)npages * page_size)) return -1;
    int64_t written = 0;
    for (size_t i = 0; i < npages; i++) {
        const uint8_t *w = want[i] ? want[i] : zero;
        if (memcmp(scratch + i * page_size, w, page_size)) {
            if (mem_write(uc, start + i * page_size, (void *)w, page_size)) return -1;
            written++;
        }
    }
    return written;
}

/* Index recording: every guest memory write and every call and return, for `ttdbg index`.
 *
 * bc_block_hook calls ix_block_entered on every block it lets run. Python teaches it, per
 * block, the instruction addresses (to turn the pc of a write into its icount) and whether the
 * block ends with a call or a return. A call or return is recognised at the entry of the next
 * block, once its block has run to the end: the callee's entry pc and sp, or the value
 * returned, are then in the registers. Returns are matched to calls with a shadow stack keyed
 * by the stack pointer the call returns to; frames below a return's stack pointer were
 * abandoned (longjmp) and are dropped.
 *
 * Rows go into column tables that grow together (one capacity check per row); Python wraps
 * the columns without copying them, and ix_sort_writes orders the writes by address.
 * Unicorn reports at most 8 bytes per write: a 16-byte register store (SSE movdqu/movaps,
 * AArch64 str/stp of q registers) arrives as two 8-byte pieces, low then high. Python marks
 * the instructions that make such stores (`wide`, one bit per instruction of a block), and
 * the hook joins their pieces back into one 16-byte row (value, value_hi).
 */

enum { IX_OTHER = 0, IX_CALL = 1, IX_RET = 2 };

typedef struct {
    uint64_t addr;
    uint32_t size;
    uint32_t n;
    uint32_t kind;
    uint32_t popped; /* a return's extra stack bytes released (x86 `ret N`: N) */
    uint64_t *insns; /* n instruction addresses */
    uint64_t wide;   /* bit i: instruction i stores a 16-byte register (i < 64) */
} ix_block;

#define IX_MAX_COLUMNS 11

typedef struct {
    uint64_t len, cap;
    uint32_t ncols, pad;
    uint64_t *cols[IX_MAX_COLUMNS];
} ix_table;

/* W_CAUSE: 0 for an instruction's store, else what Python said made the write (a syscall, a
 * signal frame), for ix_add_write rows. */
enum { W_ICOUNT, W_PC, W_ADDR, W_VALUE, W_SIZE, W_VALUE_HI, W_CAUSE, W_COLUMNS };
enum { C_ICOUNT, C_PC, C_TARGET, C_SP, C_RET, C_RETVAL, C_ARG0, C_TID = C_ARG0 + 4, C_COLUMNS };
enum { R_ICOUNT, R_SP, R_RETVAL, R_TID, R_COLUMNS };
enum { S_ROW, S_SP, S_COLUMNS };
#define W_ZEROED ((1u << W_VALUE_HI) | (1u << W_CAUSE)) /* written only where non-zero */

typedef struct {
    bc_counter *c;
    bc_reg_read_fn reg_read;
    int32_t pc_id;
    uint32_t call_push; /* bytes a call pushes (x86-64: the return address) */
    /* block table: open addressing on (addr, size) */
    uint64_t mask, used;
    ix_block *table;
    /* the block that ran last, for call/return detection at the next block's entry */
    ix_block cur; /* a copy: the table may grow under it */
    uint64_t cur_base;
    int32_t have_cur;
    int32_t unknown_blocks; /* blocks the table did not know: a bug if ever non-zero */
    ix_table writes;        /* icount, pc, addr, value, size */
    ix_table calls;   /* icount, pc, target, sp, return icount (or -1), retval, args, tid */
    ix_table returns; /* returns matched by no call of this run: icount, sp, retval, tid */
    ix_table stack;   /* the running thread's shadow stack: call row, sp the call returns to */
    int32_t oom;
    uint64_t half;      /* the row of a 16-byte store's low piece awaiting its high one */
    /* Calls and returns pair up per guest thread: `tid` runs on `stack`; the shadow stacks
     * of the others wait in `parked` (Python tells of every switch, ix_switch). */
    int64_t tid;
    ix_table *parked;
    int64_t *parked_tid;
    uint64_t nparked, parked_cap;
    uint64_t caused; /* rows with a cause (ix_add_write): the only non-zero causes */
    uint64_t wide_rows; /* 16-byte rows: the only non-zero value_hi */
    /* uc_reg_read_batch: a call's stack pointer and arguments in one Unicorn call */
    int (*reg_read_batch)(void *uc, const int *regs, void **vals, int count);
    int32_t call_regs[5]; /* sp, then the first integer argument registers */
    int32_t ret_regs[2];  /* sp, the return-value register */
} ix_recorder;

/* Columns live in their own anonymous mappings: they grow by mremap, which moves page table
 * entries instead of copying (realloc copied some 600 MB per run of the compute sample, and
 * faulted in every page twice), they come zero-filled (the writes' value_hi and cause columns,
 * mostly zero, are only written where they are not), and big ones may use huge pages (one
 * fault per 2 MiB instead of per 4 KiB). */
static uint64_t *ix_map(uint64_t *old, uint64_t old_rows, uint64_t rows) {
    size_t bytes = rows * sizeof(uint64_t);
    void *data = old ? mremap(old, old_rows * sizeof(uint64_t), bytes, MREMAP_MAYMOVE)
                     : mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (data == MAP_FAILED) return NULL;
#ifdef MADV_HUGEPAGE
    if (bytes >= (1u << 21)) madvise(data, bytes, MADV_HUGEPAGE);
#endif
    return data;
}

static void ix_unmap(ix_table *t) {
    for (uint32_t i = 0; i < t->ncols; i++) {
        if (t->cols[i]) munmap(t->cols[i], t->cap * sizeof(uint64_t));
        t->cols[i] = NULL;
    }
    t->len = t->cap = 0;
}

/* The columns of the last recorder's writes and calls tables, and the sort's scratch column,
 * kept for the next recorder of the process: an index worker records interval after interval,
 * and pages it wrote before cost no faults (clearing fresh pages was a tenth of a recording).
 * Columns that must come zero-filled are not kept; nor is more than IX_SPARE_MAX bytes in all. */
#define IX_SPARE_MAX ((uint64_t)768 << 20)
static ix_table ix_spare_writes, ix_spare_calls;
static uint64_t *ix_spare_scratch, ix_spare_scratch_rows;
/* ctypes lets go of the GIL: two threads' recorders may start or end at once */
static pthread_mutex_t ix_spare_lock = PTHREAD_MUTEX_INITIALIZER;

/* The bytes of `t`'s mapped columns but the `zeroed` ones. */
static uint64_t ix_bytes(const ix_table *t, uint32_t zeroed) {
    uint64_t cols = 0;
    for (uint32_t i = 0; i < t->ncols; i++) cols += t->cols[i] && !((zeroed >> i) & 1);
    return cols * t->cap * sizeof(uint64_t);
}

/* The bytes kept for the next recorder: spare columns and the sort's scratch. */
static uint64_t ix_spare_bytes(void) {
    return ix_bytes(&ix_spare_writes, 0) + ix_bytes(&ix_spare_calls, 0) +
           ix_spare_scratch_rows * sizeof(uint64_t);
}

/* Keep `t`'s columns (but the `zeroed` ones) as `spare`, or unmap them. */
static void ix_keep(ix_table *t, ix_table *spare, uint32_t zeroed) {
    ix_unmap(spare);
    if (!t->cap || ix_bytes(t, zeroed) + ix_spare_bytes() > IX_SPARE_MAX) {
        ix_unmap(t);
        return;
    }
    for (uint32_t i = 0; i < t->ncols; i++)
        if ((zeroed >> i) & 1 && t->cols[i]) {
            munmap(t->cols[i], t->cap * sizeof(uint64_t));
            t->cols[i] = NULL;
        }
    *spare = *t;
    spare->len = 0;
    memset(t->cols, 0, sizeof t->cols);
    t->len = t->cap = 0;
}

/* Start `t` (empty) on the spare columns, with fresh zero-filled `zeroed` ones. */
static void ix_adopt(ix_table *t, ix_table *spare, uint32_t zeroed) {
    if (!spare->cap || t->cap) return;
    *t = *spare;
    memset(spare, 0, sizeof *spare);
    spare->ncols = t->ncols;
    for (uint32_t i = 0; i < t->ncols; i++)
        if ((zeroed >> i) & 1 && !(t->cols[i] = ix_map(NULL, 0, t->cap))) {
            ix_unmap(t); /* and grow from nothing, as without a spare */
            return;
        }
}

/* Give back the spare columns (at the end of a build). */
void ix_release_spares(void) {
    pthread_mutex_lock(&ix_spare_lock);
    ix_unmap(&ix_spare_writes);
    ix_unmap(&ix_spare_calls);
    if (ix_spare_scratch) munmap(ix_spare_scratch, ix_spare_scratch_rows * sizeof(uint64_t));
    ix_spare_scratch = NULL;
    ix_spare_scratch_rows = 0;
    pthread_mutex_unlock(&ix_spare_lock);
}

static int ix_grow(ix_table *t) {
    uint64_t cap = t->cap ? t->cap * 2 : 1 << 14;
    for (uint32_t i = 0; i < t->ncols; i++) {
        uint64_t *data = ix_map(t->cols[i], t->cap, cap);
        if (!data) {
            /* the columns grown so far stay valid at the new capacity: shrink them back */
            for (uint32_t j = 0; j < i; j++) {
                uint64_t *back = mremap(t->cols[j], cap * sizeof(uint64_t),
                                        t->cap * sizeof(uint64_t), 0);
                if (back != MAP_FAILED) t->cols[j] = back;
            }
            return -1;
        }
        t->cols[i] = data;
    }
    t->cap = cap;
    return 0;
}

/* The index of a new row of `t`, or UINT64_MAX when memory ran out (then noted in `oom`). */
static inline uint64_t ix_row(ix_recorder *x, ix_table *t) {
    if (t->len == t->cap && ix_grow(t)) {
        x->oom = 1;
        return UINT64_MAX;
    }
    return t->len++;
}

static ix_block *ix_find(ix_recorder *x, uint64_t addr, uint32_t size) {
    uint64_t h = bc_slot(addr);
    for (;;) {
        ix_block *b = &x->table[h & x->mask];
        if (b->addr == addr && b->size == size) return b;
        if (b->size == 0) return NULL;
        h++;
    }
}

/* The registers read here (pc, sp, argument and return registers) are 64-bit integer ones on
 * every architecture: Unicorn writes 8 bytes for each (the second word is a margin). */
static uint64_t ix_reg(void *uc, ix_recorder *x, int32_t id) {
    uint64_t v[2] = {0, 0};
    x->reg_read(uc, id, v);
    return v[0];
}

/* The block `x->cur` ran to its end and the CPU is at the next block: record its call or
 * return. */
static void ix_finish_block(void *uc, ix_recorder *x, uint64_t next_pc) {
    ix_block *b = &x->cur;
    uint64_t icount = x->cur_base + b->n - 1; /* the call or return instruction */
    if (b->kind == IX_CALL) {
        uint64_t regs[5][2] = {{0}}; /* as ix_reg's */
        void *vals[5] = {regs[0], regs[1], regs[2], regs[3], regs[4]};
        x->reg_read_batch(uc, x->call_regs, vals, 5);
        uint64_t sp = regs[0][0];
        uint64_t row = ix_row(x, &x->calls), top = ix_row(x, &x->stack);
        if (row == UINT64_MAX || top == UINT64_MAX) return;
        uint64_t **c = x->calls.cols;
        c[C_ICOUNT][row] = icount;
        c[C_PC][row] = b->insns[b->n - 1];
        c[C_TARGET][row] = next_pc;
        c[C_SP][row] = sp;
        c[C_RET][row] = UINT64_MAX;
        c[C_RETVAL][row] = 0;
        for (int i = 0; i < 4; i++) c[C_ARG0 + i][row] = regs[1 + i][0];
        c[C_TID][row] = (uint64_t)x->tid;
        x->stack.cols[S_ROW][top] = row;
        x->stack.cols[S_SP][top] = sp + x->call_push;
    } else if (b->kind == IX_RET) {
        uint64_t regs[2][2] = {{0}};
        void *vals[2] = {regs[0], regs[1]};
        x->reg_read_batch(uc, x->ret_regs, vals, 2);
        uint64_t sp = regs[0][0] - b->popped; /* where the return address was */
        uint64_t retval = regs[1][0];
        ix_table *s = &x->stack;
        while (s->len && s->cols[S_SP][s->len - 1] < sp) s->len--; /* abandoned frames */
        if (s->len && s->cols[S_SP][s->len - 1] == sp) {
            uint64_t row = s->cols[S_ROW][--s->len];
            x->calls.cols[C_RET][row] = icount;
            x->calls.cols[C_RETVAL][row] = retval;
        } else if (!s->len) {
            uint64_t row = ix_row(x, &x->returns);
            if (row == UINT64_MAX) return;
            x->returns.cols[R_ICOUNT][row] = icount;
            x->returns.cols[R_SP][row] = sp;
            x->returns.cols[R_RETVAL][row] = retval;
            x->returns.cols[R_TID][row] = (uint64_t)x->tid;
        }
    }
}

void ix_block_entered(void *uc, uint64_t addr, uint32_t size, void *index) {
    ix_recorder *x = index;
    uint64_t base = x->c->block_base;
    if (x->have_cur && x->cur.kind != IX_OTHER && x->cur_base + x->cur.n == base)
        ix_finish_block(uc, x, addr);
    if (x->have_cur && x->cur.addr == addr && x->cur.size == size) {
        x->cur_base = base; /* a loop: the same block again */
        return;
    }
    ix_block *b = ix_find(x, addr, size);
    if (!b) {
        x->unknown_blocks++;
        x->have_cur = 0;
        return;
    }
    x->cur = *b;
    x->cur_base = base;
    x->have_cur = 1;
}

void ix_write_hook(void *uc, int type, uint64_t addr, int size, int64_t value, ix_recorder *x) {
    (void)type;
    uint64_t pc = ix_reg(uc, x, x->pc_id);
    uint64_t icount = x->c->icount;
    int wide = 0;
    if (x->have_cur) {
        const ix_block *b = &x->cur;
        for (uint32_t i = 0; i < b->n; i++)
            if (b->insns[i] == pc) {
                icount = x->cur_base + i;
                wide = i < 64 && (b->wide >> i) & 1;
                break;
            }
    }
    uint64_t bits = (uint64_t)value;
    if (size < 8) bits &= (1ULL << (8 * size)) - 1; /* Unicorn sign-extends narrow values */
    uint64_t **w = x->writes.cols;
    uint64_t half = x->half;
    x->half = UINT64_MAX;
    if (wide && size == 8 && half != UINT64_MAX && w[W_ICOUNT][half] == icount &&
        w[W_PC][half] == pc && w[W_ADDR][half] + 8 == addr) {
        w[W_VALUE_HI][half] = bits; /* the high piece of the store whose low piece is `half` */
        w[W_SIZE][half] = 16;
        x->wide_rows++;
        return;
    }
    uint64_t row = ix_row(x, &x->writes);
    if (row == UINT64_MAX) return;
    w = x->writes.cols;
    w[W_ICOUNT][row] = icount;
    w[W_PC][row] = pc;
    w[W_ADDR][row] = addr;
    w[W_VALUE][row] = bits;
    w[W_SIZE][row] = (uint64_t)size; /* value_hi and cause: zero, as the rows come */
    if (wide && size == 8) x->half = row;
}

/* A block hook that does nothing: what Unicorn's call into any block hook costs (the floor
 * under the counter's own), for the bench's thread ceiling figure. */
void bc_empty_block_hook(void *uc, uint64_t addr, uint32_t size, void *x) {
    (void)uc;
    (void)addr;
    (void)size;
    (void)x;
}

/* A write hook that does nothing: what attaching any write hook costs (Unicorn then sends
 * every guest load and store down its slow path), for the bench's index ceiling figures. */
void ix_empty_write_hook(void *uc, int type, uint64_t addr, int size, int64_t value, void *x) {
    (void)uc;
    (void)type;
    (void)addr;
    (void)size;
    (void)value;
    (void)x;
}

/* A write no instruction made (a syscall's or a signal frame's, told by Python, with its
 * non-zero `cause`): one row, like the hook's. */
int ix_add_write(ix_recorder *x, uint64_t icount, uint64_t pc, uint64_t addr, uint64_t value,
                 uint64_t size, uint64_t cause) {
    uint64_t row = ix_row(x, &x->writes);
    if (row == UINT64_MAX) return -1;
    uint64_t **w = x->writes.cols;
    w[W_ICOUNT][row] = icount;
    w[W_PC][row] = pc;
    w[W_ADDR][row] = addr;
    w[W_VALUE][row] = value;
    w[W_SIZE][row] = size;
    w[W_CAUSE][row] = cause;
    x->caused++;
    x->half = UINT64_MAX;
    return 0;
}

/* The run stopped at a block boundary: finish the block before it (its call's callee or its
 * return is in the registers now), since the next block may be run by someone else. */
void ix_flush(void *uc, ix_recorder *x) {
    x->half = UINT64_MAX;
    if (x->have_cur && x->cur.kind != IX_OTHER && x->cur_base + x->cur.n == x->c->icount)
        ix_finish_block(uc, x, ix_reg(uc, x, x->pc_id));
    x->have_cur = 0;
}

/* Thread `tid` goes on the CPU; call before its registers are loaded: the block that ran last
 * is finished with the registers of the thread that ran it, and each thread's calls wait on
 * its own shadow stack. Returns -1 when memory ran out. */
int ix_switch(void *uc, ix_recorder *x, int64_t tid) {
    ix_flush(uc, x);
    if (tid == x->tid) return 0;
    if (x->nparked == x->parked_cap) {
        uint64_t cap = x->parked_cap ? x->parked_cap * 2 : 8;
        ix_table *parked = realloc(x->parked, cap * sizeof *parked);
        if (parked) x->parked = parked;
        int64_t *tids = realloc(x->parked_tid, cap * sizeof *tids);
        if (tids) x->parked_tid = tids;
        if (!parked || !tids) {
            x->oom = 1;
            return -1;
        }
        x->parked_cap = cap;
    }
    x->parked[x->nparked] = x->stack;
    x->parked_tid[x->nparked++] = x->tid;
    memset(&x->stack, 0, sizeof x->stack);
    x->stack.ncols = S_COLUMNS;
    for (uint64_t i = 0; i + 1 < x->nparked; i++)
        if (x->parked_tid[i] == tid) {
            x->stack = x->parked[i];
            x->parked[i] = x->parked[--x->nparked];
            x->parked_tid[i] = x->parked_tid[x->nparked];
            break;
        }
    x->tid = tid;
    return 0;
}

/* At the end: the parked threads' shadow stacks join the running one's, so that `stack`
 * holds every call still open (in no particular order). Returns -1 when memory ran out. */
int ix_gather_stacks(ix_recorder *x) {
    for (; x->nparked; x->nparked--) {
        ix_table *t = &x->parked[x->nparked - 1];
        for (uint64_t i = 0; i < t->len; i++) {
            uint64_t top = ix_row(x, &x->stack);
            if (top == UINT64_MAX) return -1;
            x->stack.cols[S_ROW][top] = t->cols[S_ROW][i];
            x->stack.cols[S_SP][top] = t->cols[S_SP][i];
        }
        ix_unmap(t);
    }
    return 0;
}

static int ix_cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Sort keys for the writes: the rank of the address's page among the pages written, then
 * the offset in the page. Writes touch few pages spread over the address space (program data,
 * heap, stack): ranks make the keys some 20 bits wide instead of 47. Returns the key width,
 * 0 when there are too many pages (the caller then sorts on the addresses), -1 without
 * memory. */
static int ix_page_keys(const uint64_t *addr, uint64_t n, uint32_t *keys) {
    uint64_t mask = 1023;
    uint64_t *set = NULL, used = 0;
    for (;;) {
        free(set);
        set = malloc((mask + 1) * sizeof(uint64_t));
        if (!set) return -1;
        memset(set, 0xff, (mask + 1) * sizeof(uint64_t)); /* UINT64_MAX: empty */
        used = 0;
        uint64_t i = 0, last = UINT64_MAX;
        for (; i < n; i++) {
            uint64_t page = addr[i] >> 12;
            if (page == last) continue; /* runs of writes to one page are the rule */
            last = page;
            uint64_t h = bc_slot(page);
            while (set[h & mask] != page && set[h & mask] != UINT64_MAX) h++;
            if (set[h & mask] == UINT64_MAX) {
                set[h & mask] = page;
                if (++used * 2 > mask + 1) break;
            }
        }
        if (i == n) break;
        if (used > (1u << 20)) {
            free(set);
            return 0; /* over a million pages: the keys would not fit 32 bits */
        }
        mask = mask * 2 + 1;
    }
    /* The set's pages in order; a page's rank is its place there. */
    uint64_t *pages = malloc((used ? used : 1) * sizeof(uint64_t));
    uint32_t *ranks = malloc((mask + 1) * sizeof(uint32_t));
    if (!pages || !ranks) {
        free(set);
        free(pages);
        free(ranks);
        return -1;
    }
    uint64_t k = 0;
    for (uint64_t i = 0; i <= mask; i++)
        if (set[i] != UINT64_MAX) pages[k++] = set[i];
    qsort(pages, used, sizeof(uint64_t), ix_cmp_u64);
    for (uint64_t r = 0; r < used; r++) {
        uint64_t h = bc_slot(pages[r]);
        while (set[h & mask] != pages[r]) h++;
        ranks[h & mask] = (uint32_t)r;
    }
    uint64_t last = UINT64_MAX;
    uint32_t rank = 0;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t page = addr[i] >> 12;
        if (page != last) {
            uint64_t h = bc_slot(page);
            while (set[h & mask] != page) h++;
            rank = ranks[h & mask];
            last = page;
        }
        keys[i] = rank << 12 | (uint32_t)(addr[i] & 4095);
    }
    int bits = 12;
    while ((used - 1) >> (bits - 12)) bits++;
    free(set);
    free(pages);
    free(ranks);
    return bits;
}

/* Order the writes by address, keeping execution order among equal addresses (a stable LSD
 * radix sort, 11 bits a pass, on page-rank keys or else on the address bits that vary).
 * Returns -1 without memory. */
int ix_sort_writes(ix_recorder *x) {
    ix_table *t = &x->writes;
    uint64_t n = t->len;
    if (n < 2) return 0;
    if (n > UINT32_MAX) return -1;
    uint64_t *addr = t->cols[W_ADDR];
    uint32_t *order = malloc(n * sizeof(uint32_t)), *next = malloc(n * sizeof(uint32_t));
    uint32_t *keys = malloc(n * sizeof(uint32_t)), *next_keys = malloc(n * sizeof(uint32_t));
    uint64_t *scratch = NULL; /* swapped with the columns: of their size */
    pthread_mutex_lock(&ix_spare_lock);
    if (ix_spare_scratch_rows == t->cap) {
        scratch = ix_spare_scratch;
        ix_spare_scratch = NULL;
        ix_spare_scratch_rows = 0;
    }
    pthread_mutex_unlock(&ix_spare_lock);
    if (!scratch) scratch = ix_map(NULL, 0, t->cap);
    int bits = order && next && keys && next_keys && scratch ? ix_page_keys(addr, n, keys) : -1;
    if (bits < 0) {
        free(order);
        free(next);
        free(keys);
        free(next_keys);
        if (scratch) munmap(scratch, t->cap * sizeof(uint64_t));
        return -1;
    }
    for (uint64_t i = 0; i < n; i++) order[i] = (uint32_t)i;
    if (bits) {
        for (int shift = 0; shift < bits; shift += 11) {
            uint64_t count[2048 + 1] = {0};
            for (uint64_t i = 0; i < n; i++) count[((keys[i] >> shift) & 2047) + 1]++;
            for (int d = 0; d < 2048; d++) count[d + 1] += count[d];
            for (uint64_t i = 0; i < n; i++) {
                uint64_t to = count[(keys[i] >> shift) & 2047]++;
                next[to] = order[i];
                next_keys[to] = keys[i];
            }
            uint32_t *swap = order;
            order = next;
            next = swap;
            swap = keys;
            keys = next_keys;
            next_keys = swap;
        }
    } else {
        uint64_t lo = UINT64_MAX, hi = 0;
        for (uint64_t i = 0; i < n; i++) {
            lo = addr[i] < lo ? addr[i] : lo;
            hi = addr[i] > hi ? addr[i] : hi;
        }
        while (bits < 64 && ((hi - lo) >> bits)) bits++;
        for (int shift = 0; shift < bits; shift += 11) {
            uint64_t count[2048 + 1] = {0};
            for (uint64_t i = 0; i < n; i++) count[(((addr[order[i]] - lo) >> shift) & 2047) + 1]++;
            for (int d = 0; d < 2048; d++) count[d + 1] += count[d];
            for (uint64_t i = 0; i < n; i++) next[count[((addr[order[i]] - lo) >> shift) & 2047]++] = order[i];
            uint32_t *swap = order;
            order = next;
            next = swap;
        }
    }
    for (uint32_t c = 0; c < t->ncols; c++) {
        uint64_t *col = t->cols[c];
        if ((c == W_VALUE_HI && !x->wide_rows) || (c == W_CAUSE && !x->caused))
            continue; /* all zero: in order already */
        for (uint64_t i = 0; i < n; i++) scratch[i] = col[order[i]];
        t->cols[c] = scratch;
        scratch = col;
    }
    free(order);
    free(next);
    free(keys);
    free(next_keys);
    pthread_mutex_lock(&ix_spare_lock);
    if (ix_spare_scratch) munmap(ix_spare_scratch, ix_spare_scratch_rows * sizeof(uint64_t));
    ix_spare_scratch = NULL;
    ix_spare_scratch_rows = 0;
    if (t->cap * sizeof(uint64_t) + ix_spare_bytes() <= IX_SPARE_MAX) {
        ix_spare_scratch = scratch;
        ix_spare_scratch_rows = t->cap;
    } else {
        munmap(scratch, t->cap * sizeof(uint64_t));
    }
    pthread_mutex_unlock(&ix_spare_lock);
    return 0;
}

/* The pages the writes touch, ascending and each once, into `out` (NULL: only count them);
 * call after ix_sort_writes. Returns how many. The writes' first pages rise, so a page below
 * the highest one put out so far is in a range already put out. */
uint64_t ix_written_pages(ix_recorder *x, uint64_t *out) {
    const ix_table *t = &x->writes;
    const uint64_t *addr = t->cols[W_ADDR], *size = t->cols[W_SIZE];
    uint64_t k = 0, top = 0;
    for (uint64_t i = 0; i < t->len; i++) {
        uint64_t first = addr[i] >> 12, last = (addr[i] + size[i] - 1) >> 12;
        for (uint64_t page = k && first <= top ? top + 1 : first; page <= last; page++) {
            if (out) out[k] = page;
            k++;
            top = page;
        }
    }
    return k;
}

static void ix_put(ix_block *table, uint64_t mask, ix_block *b) {
    uint64_t h = bc_slot(b->addr);
    for (;;) {
        ix_block *e = &table[h & mask];
        if (e->size == 0) {
            *e = *b;
            return;
        }
        h++;
    }
}

int ix_init(ix_recorder *x, bc_counter *c, void *reg_read, int32_t pc_id, int32_t sp_id,
            int32_t ret_id, uint32_t call_push, const int32_t *arg_ids, void *reg_read_batch) {
    memset(x, 0, sizeof *x);
    x->reg_read_batch = reg_read_batch;
    x->call_regs[0] = sp_id;
    memcpy(x->call_regs + 1, arg_ids, 4 * sizeof *arg_ids);
    x->ret_regs[0] = sp_id;
    x->ret_regs[1] = ret_id;
    x->c = c;
    x->reg_read = (bc_reg_read_fn)reg_read;
    x->pc_id = pc_id;
    x->call_push = call_push;
    x->half = UINT64_MAX;
    x->writes.ncols = W_COLUMNS;
    x->calls.ncols = C_COLUMNS;
    x->returns.ncols = R_COLUMNS;
    x->stack.ncols = S_COLUMNS;
    x->mask = 4095;
    x->table = calloc(x->mask + 1, sizeof(ix_block));
    if (!x->table) return -1; /* before taking the spares: ix_free gives back only with a table */
    pthread_mutex_lock(&ix_spare_lock);
    ix_spare_writes.ncols = W_COLUMNS;
    ix_spare_calls.ncols = C_COLUMNS;
    ix_adopt(&x->writes, &ix_spare_writes, W_ZEROED);
    ix_adopt(&x->calls, &ix_spare_calls, 0);
    pthread_mutex_unlock(&ix_spare_lock);
    return 0;
}

int ix_learn(ix_recorder *x, uint64_t addr, uint32_t size, uint32_t kind, uint32_t popped,
             const uint64_t *insns, uint32_t n, uint64_t wide) {
    if (size == 0 || n == 0) return -1;
    ix_block *old = ix_find(x, addr, size);
    if (old) return 0;
    if ((x->used + 1) * 2 > x->mask + 1) {
        uint64_t mask = x->mask * 2 + 1;
        ix_block *table = calloc(mask + 1, sizeof(ix_block));
        if (!table) return -1;
        for (uint64_t i = 0; i <= x->mask; i++)
            if (x->table[i].size) ix_put(table, mask, &x->table[i]);
        free(x->table);
        x->table = table;
        x->mask = mask;
    }
    ix_block b = {addr, size, n, kind, popped, malloc(n * sizeof(uint64_t)), wide};
    if (!b.insns) return -1;
    memcpy(b.insns, insns, n * sizeof(uint64_t));
    ix_put(x->table, x->mask, &b);
    x->used++;
    return 0;
}

static void ix_free_blocks(ix_recorder *x) {
    for (uint64_t i = 0; i <= x->mask; i++) free(x->table[i].insns);
    memset(x->table, 0, (x->mask + 1) * sizeof(ix_block));
    x->used = 0;
    x->have_cur = 0;
}

void ix_forget(ix_recorder *x) { ix_free_blocks(x); }

void ix_free(ix_recorder *x) {
    if (!x->table) return;
    ix_free_blocks(x);
    free(x->table);
    x->table = NULL;
    for (uint64_t i = 0; i < x->nparked; i++) ix_unmap(&x->parked[i]);
    free(x->parked);
    free(x->parked_tid);
    x->parked = NULL;
    x->parked_tid = NULL;
    x->nparked = x->parked_cap = 0;
    pthread_mutex_lock(&ix_spare_lock);
    ix_keep(&x->writes, &ix_spare_writes, W_ZEROED);
    ix_keep(&x->calls, &ix_spare_calls, 0);
    pthread_mutex_unlock(&ix_spare_lock);
    ix_table *tables[] = {&x->writes, &x->calls, &x->returns, &x->stack};
    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) ix_unmap(tables[i]);
}

uint64_t ix_sizeof(void) { return sizeof(ix_recorder); }

uint64_t bc_sizeof(void) { return sizeof(bc_counter); }

static struct PyModuleDef bc_module = {PyModuleDef_HEAD_INIT, "_blockcount",
                                       "Native block counter, loaded through ctypes.", -1, NULL};

PyMODINIT_FUNC PyInit__blockcount(void) { return PyModule_Create(&bc_module); }

/* The address of the instruction executing now, for callbacks that cannot trust the CPU's pc
 * (Unicorn brings it up to date only at block starts and faults, not at MMIO accesses). */
typedef struct {
    uint64_t pc;
} bc_position;

void bc_position_hook(void *uc, uint64_t addr, uint32_t size, bc_position *p) {
    (void)uc;
    (void)size;
    p->pc = addr;
}

/* Pages of guest RAM written since the tracker was last cleared, so a snapshot restore or
 * capture touches only those (firmware RAM is large, and mostly never written). */
typedef struct {
    uint64_t base;   /* first address tracked */
    uint64_t npages; /* pages tracked from base */
    uint8_t *marks;  /* one byte per page: written since the last clear */
    uint32_t *list;  /* the marked pages, in the order first written */
    uint64_t count;  /* entries in list */
} bc_dirty;

void bc_dirty_mark(bc_dirty *d, uint64_t addr, uint64_t size) {
    if (size == 0 || addr < d->base) return;
    uint64_t first = (addr - d->base) >> 12;
    uint64_t last = (addr - d->base + size - 1) >> 12;
    for (uint64_t p = first; p <= last && p < d->npages; p++) {
        if (!d->marks[p]) {
            d->marks[p] = 1;
            d->list[d->count++] = (uint32_t)p;
        }
    }
}

void bc_dirty_hook(void *uc, int type, uint64_t addr, int size, int64_t value, bc_dirty *d) {
    (void)uc;
    (void)type;
    (void)value;
    bc_dirty_mark(d, addr, (uint64_t)size);
}

void bc_dirty_clear(bc_dirty *d) {
    for (uint64_t i = 0; i < d->count; i++) d->marks[d->list[i]] = 0;
    d->count = 0;
}

/* Pages written anywhere in a 64-bit address space since the set was last cleared, for
 * guests whose memory map changes (Linux programs). It is filled by Unicorn's TLB rather
 * than a write hook: any write hook sends every guest load and store down Unicorn's slow
 * path, while this TLB-fill hook gives a page's TLB entry write permission only when the
 * page goes into the set. A page's first store after a clear (and TLB flush) costs one fill;
 * the stores after it run at full speed. The set is open addressing on page numbers + 1
 * (0: free), with the pages also kept in a list in the order first written. */
typedef struct {
    uint64_t *slots;
    uint64_t mask; /* capacity - 1, capacity a power of two */
    uint64_t *list;
    uint64_t count;
} bc_pageset;

/* Unicorn's uc_tlb_entry and the memory access types its TLB-fill hook is called with. */
typedef struct {
    uint64_t paddr;
    uint32_t perms;
} bc_tlb_entry;
enum { BC_UC_MEM_WRITE = 17, BC_UC_PROT_RWX = 7, BC_UC_PROT_RX = 5 };

bc_pageset *bc_pageset_new(void) {
    bc_pageset *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->mask = 1023;
    s->slots = calloc(s->mask + 1, sizeof *s->slots);
    s->list = malloc((s->mask + 1) / 2 * sizeof *s->list);
    if (!s->slots || !s->list) {
        free(s->slots);
        free(s->list);
        free(s);
        return NULL;
    }
    return s;
}

void bc_pageset_free(bc_pageset *s) {
    if (!s) return;
    free(s->slots);
    free(s->list);
    free(s);
}

static inline uint64_t bc_pageset_slot(uint64_t page, uint64_t mask) {
    return (page * 0x9E3779B97F4A7C15ULL) >> 20 & mask;
}

/* Doubles the table (kept at most half full). False: out of memory, the set unchanged. */
static bool bc_pageset_grow(bc_pageset *s) {
    uint64_t mask = s->mask * 2 + 1;
    uint64_t *slots = calloc(mask + 1, sizeof *slots);
    uint64_t *list = realloc(s->list, (mask + 1) / 2 * sizeof *list);
    if (!slots || !list) {
        free(slots);
        if (list) s->list = list;
        return false;
    }
    s->list = list;
    for (uint64_t i = 0; i < s->count; i++) {
        uint64_t j = bc_pageset_slot(list[i], mask);
        while (slots[j]) j = (j + 1) & mask;
        slots[j] = list[i] + 1;
    }
    free(s->slots);
    s->slots = slots;
    s->mask = mask;
    return true;
}

/* Adds `page`; false only when memory ran out (the caller must then not trust the set). */
static bool bc_pageset_add(bc_pageset *s, uint64_t page) {
    uint64_t j = bc_pageset_slot(page, s->mask);
    for (; s->slots[j]; j = (j + 1) & s->mask)
        if (s->slots[j] == page + 1) return true;
    if ((s->count + 1) * 2 > s->mask + 1) {
        if (!bc_pageset_grow(s)) return false;
        return bc_pageset_add(s, page);
    }
    s->slots[j] = page + 1;
    s->list[s->count++] = page;
    return true;
}

/* Marks the pages of [addr, addr + size) written; 0, or -1 when memory ran out. */
int bc_pageset_mark(bc_pageset *s, uint64_t addr, uint64_t size) {
    if (size == 0) return 0;
    uint64_t last = (addr + (size - 1)) >> 12;
    for (uint64_t p = addr >> 12;; p++) {
        if (!bc_pageset_add(s, p)) return -1;
        if (p == last) return 0;
    }
}

uint64_t bc_pageset_count(const bc_pageset *s) { return s->count; }

/* Copies the first `n` marked pages' addresses to `out`. */
void bc_pageset_pages(const bc_pageset *s, uint64_t *out, uint64_t n) {
    for (uint64_t i = 0; i < n && i < s->count; i++) out[i] = s->list[i] << 12;
}

void bc_pageset_clear(bc_pageset *s) {
    if (s->count * 8 < s->mask + 1) {
        for (uint64_t i = 0; i < s->count; i++) {
            uint64_t j = bc_pageset_slot(s->list[i], s->mask);
            while (s->slots[j] != s->list[i] + 1) j = (j + 1) & s->mask;
            s->slots[j] = 0;
        }
        /* Deleting from open addressing leaves holes in probe runs: only correct because
         * every entry is deleted here. */
    } else {
        memset(s->slots, 0, (s->mask + 1) * sizeof *s->slots);
    }
    s->count = 0;
}

/* UC_HOOK_TLB_FILL: the identity map (what the CPU's own MMU gives a Linux guest, paging
 * off), writable only for a store, which marks the page. Unicorn checks the memory region's
 * own permissions after this, as without the hook. A mark that runs out of memory refuses
 * the fill, which stops the emulator with an error rather than losing a write. */
bool bc_pageset_tlb_fill(void *uc, uint64_t addr, int type, bc_tlb_entry *entry,
                         bc_pageset *s) {
    (void)uc;
    entry->paddr = addr;
    if (type == BC_UC_MEM_WRITE) {
        if (!bc_pageset_add(s, addr >> 12)) return false;
        entry->perms = BC_UC_PROT_RWX;
    } else {
        entry->perms = BC_UC_PROT_RX;
    }
    return true;
}
