/* Native Unicorn block hook that keeps an exact instruction count at full emulation speed.
 *
 * A Python hook per block costs ~30x the emulation itself, and Unicorn's own `count` argument
 * calls a hook per instruction. This hook adds a block's instruction count (looked up in an
 * open-addressing table that Python fills from capstone) at block entry, and stops the
 * emulator *before* a block that is unknown or that would carry the count past `limit`. The
 * Python side then finishes the last partial block under a per-instruction hook installed over
 * that one block only. The count is
 * therefore exact at every block entry; a stop inside a block is resolved from the block's
 * instruction addresses, which Python keeps.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    uint64_t addr;
    uint32_t size;
    uint32_t n;
} bc_entry;

typedef int (*bc_stop_fn)(void *uc);

typedef struct {
    uint64_t icount;
    uint64_t limit;
    uint64_t block_addr;
    uint64_t block_base;
    uint64_t miss_addr;
    uint32_t miss_size;
    uint32_t stop; /* 0 running, 1 unknown block, 2 limit reached */
    bc_stop_fn emu_stop;
    uint64_t mask;
    uint64_t used;
    bc_entry *table;
    uint64_t steps;      /* instructions run under bc_insn_hook */
    uint64_t step_limit; /* bc_insn_hook stops before the instruction past this many */
    uint64_t block_insn; /* instructions of the current block seen by bc_reg_hook */
} bc_counter;

enum { BC_RUNNING = 0, BC_UNKNOWN_BLOCK = 1, BC_LIMIT = 2, BC_STEPS = 3, BC_HIT = 4 };

static inline uint64_t bc_slot(uint64_t addr) { return (addr * 0x9E3779B97F4A7C15ULL) >> 17; }

void bc_block_hook(void *uc, uint64_t addr, uint32_t size, bc_counter *c) {
    uint64_t h = bc_slot(addr);
    for (;;) {
        bc_entry *e = &c->table[h & c->mask];
        if (e->addr == addr && e->size == size) {
            if (c->icount + e->n > c->limit) {
                c->miss_addr = addr;
                c->miss_size = size;
                c->stop = BC_LIMIT;
                c->emu_stop(uc);
                return;
            }
            c->block_addr = addr;
            c->block_base = c->icount;
            c->block_insn = 0;
            c->icount += e->n;
            return;
        }
        if (e->size == 0) {
            c->miss_addr = addr;
            c->miss_size = size;
            c->stop = BC_UNKNOWN_BLOCK;
            c->emu_stop(uc);
            return;
        }
        h++;
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
    return c->table ? 0 : -1;
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

void bc_clear(bc_counter *c) {
    memset(c->table, 0, (c->mask + 1) * sizeof(bc_entry));
    c->used = 0;
}

void bc_free(bc_counter *c) {
    free(c->table);
    c->table = NULL;
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

typedef int (*bc_mem_fn)(void *uc, uint64_t addr, void *buf, uint64_t size);

/* Make [start, start + npages pages) hold `want` (NULL entries are zero pages), writing only
 * the pages that differ. Returns how many pages were written, or -1 if Unicorn failed. */
int64_t bc_restore_region(void *uc, bc_mem_fn mem_read, bc_mem_fn mem_write, uint64_t start,
                          size_t npages, size_t page_size, const uint8_t *const *want,
                          uint8_t *scratch, const uint8_t *zero) {
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

uint64_t bc_sizeof(void) { return sizeof(bc_counter); }

static struct PyModuleDef bc_module = {PyModuleDef_HEAD_INIT, "_blockcount",
                                       "Native block counter, loaded through ctypes.", -1, NULL};

PyMODINIT_FUNC PyInit__blockcount(void) { return PyModule_Create(&bc_module); }
