"""Dynamic test programs, built into a temporary directory with the host's (or a cross)
compiler: a C program, a C++ program, a program linked against a library of its own, a
plugin loaded with dlopen, and an LD_PRELOAD library."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from tests.conftest import require_tool

C_PROGRAM = r"""
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <fcntl.h>
#include <unistd.h>
#include <errno.h>
#include <link.h>
#include <sys/auxv.h>

int counter;

static int fib(int n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }

/* What the auxiliary vector says about the program and its loader, as facts that hold at any
   load address: AT_BASE is the loader's ELF header where dl_iterate_phdr finds the loader,
   AT_PHDR/AT_PHNUM are the program's own program headers, AT_ENTRY is its _start. */
extern char _start[];
static int look(struct dl_phdr_info *info, size_t size, void *unused) {
    if (info->dlpi_phdr == (const ElfW(Phdr) *)getauxval(AT_PHDR)) {
        for (int i = 0; i < info->dlpi_phnum; i++)
            if (info->dlpi_phdr[i].p_type == PT_PHDR)
                printf("program: bias + PT_PHDR's vaddr is AT_PHDR %d\n",
                       info->dlpi_addr + info->dlpi_phdr[i].p_vaddr == getauxval(AT_PHDR));
        printf("program: AT_PHNUM %d\n", info->dlpi_phnum == getauxval(AT_PHNUM));
    } else if (info->dlpi_addr == getauxval(AT_BASE)) {
        const char *name = strrchr(info->dlpi_name, '/');
        printf("loader %s at AT_BASE\n", name ? name + 1 : info->dlpi_name);
    }
    return 0;
}

static void auxv_facts(void) {
    const ElfW(Ehdr) *loader = (const ElfW(Ehdr) *)getauxval(AT_BASE);
    printf("AT_BASE page-aligned %d, ELF header %d, shared object %d\n",
           ((unsigned long)loader & 4095) == 0, memcmp(loader->e_ident, ELFMAG, SELFMAG) == 0,
           loader->e_type == ET_DYN);
    printf("AT_ENTRY is _start %d\n", getauxval(AT_ENTRY) == (unsigned long)_start);
    dl_iterate_phdr(look, NULL);
}

int main(int argc, char **argv) {
    auxv_facts();
    char *copy = strdup(argc > 1 ? argv[1] : "nobody");
    for (int i = 0; i < 5; i++) {
        counter += i;
        printf("step %d counter %d fib %d\n", i, counter, fib(10 + i));
    }
    printf("hello, %s (%zu)\n", copy, strlen(copy));
    free(copy);
    if (argc > 2) {  /* map a data file: offset, partial last page, mprotect, partial munmap */
        int fd = open(argv[2], O_RDONLY);
        off_t size = lseek(fd, 0, SEEK_END);
        char *whole = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
        char *tail = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 4096);
        printf("first %.12s last %c", whole, whole[size - 2]);
        printf(" zero-filled %d\n", tail[size - 4096] == 0);
        tail[0] = '#';
        mprotect(tail, 4096, PROT_READ);
        printf("private write %c file %c\n", tail[0], whole[4096]);
        munmap(whole + 4096, size - 4096);
        printf("still mapped %.5s\n", whole);
        char *fixed = mmap(whole, 4096, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd, 4096);
        printf("fixed over %.5s\n", fixed);
        char *shared = mmap(NULL, size, PROT_READ | PROT_EXEC, MAP_SHARED, fd, 0);
        printf("shared read-only %.3s\n", shared);
        void *refused = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        printf("shared writable on a read-only fd: %s\n",
               refused == MAP_FAILED ? strerror(errno) : "mapped");
        close(fd);
    }
    return counter;
}
"""

CPP_PROGRAM = r"""
#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>
#include <map>

static int check(int v) {
    if (v % 3 == 0) throw std::runtime_error("multiple of three: " + std::to_string(v));
    return v * v;
}

int main() {
    std::map<std::string, int> squares;
    std::vector<std::string> errors;
    for (int i = 1; i < 8; i++) {
        try {
            squares["n" + std::to_string(i)] = check(i);
        } catch (const std::exception &e) {
            errors.push_back(e.what());
        }
    }
    for (const auto &[k, v] : squares) std::cout << k << "=" << v << "\n";
    for (const auto &e : errors) std::cout << "caught " << e << std::endl;
    return 0;
}
"""

LIBRARY = r"""
#include <stdio.h>
int lib_total;
int lib_add(int v) { lib_total += v; return lib_total; }
void lib_hello(const char *who) { printf("library says hi to %s\n", who); }
"""

USES_LIBRARY = r"""
#include <stdio.h>
int lib_add(int v);
void lib_hello(const char *who);
int watched;
int main(void) {
    lib_hello("main");
    for (int i = 1; i <= 4; i++) {
        watched = lib_add(i);
        printf("total %d\n", watched);
    }
    puts("done");
    return 0;
}
"""

PLUGIN = r"""
#include <stdio.h>
const char *plugin_name(void) { return "the plugin"; }
__attribute__((constructor)) static void loaded(void) { puts("plugin constructor ran"); }
"""

DLOPENS = r"""
#include <dlfcn.h>
#include <stdio.h>
int main(int argc, char **argv) {
    void *h = dlopen(argv[1], RTLD_NOW);
    if (!h) { printf("dlopen failed: %s\n", dlerror()); return 1; }
    const char *(*name)(void) = (const char *(*)(void))dlsym(h, "plugin_name");
    printf("loaded %s\n", name());
    dlclose(h);
    return 0;
}
"""

PRELOAD = r"""
#include <stdio.h>
#include <string.h>
#include <unistd.h>
int puts(const char *s) {
    const char tag[] = "[preloaded] ";
    write(1, tag, sizeof tag - 1);
    write(1, s, strlen(s));
    write(1, "\n", 1);
    return 1;
}
"""

COMPILERS = {
    "x86_64": ("gcc", "g++"),
    "aarch64": ("aarch64-linux-gnu-gcc", "aarch64-linux-gnu-g++"),
    "riscv64": ("riscv64-linux-gnu-gcc", "riscv64-linux-gnu-g++"),
}


def compile_source(
    tmp: Path, name: str, source: str, *flags: str, arch: str = "x86_64", cpp: bool = False
) -> Path:
    """Compile `source` into tmp/name with -g; returns the path."""
    compiler = require_tool(COMPILERS[arch][1 if cpp else 0])
    src = tmp / f"{name}.{'cpp' if cpp else 'c'}"
    src.write_text(source)
    out = tmp / name
    subprocess.run(
        [compiler, "-g", "-O0", "-o", str(out), str(src), *flags],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return out


def record_with_vanished_library(
    tmp: Path,
    keep_copy: Path | None = None,
    arch: str = "x86_64",
    before_delete: Callable[[Path], object] | None = None,
) -> tuple[Path, str]:
    """Record a program linked (-rpath) against a library in tmp/libdir, then delete the
    directory and the program: (recording, the library's path as the guest named it).
    `keep_copy` receives a copy of the library first, for checks against nm;
    `before_delete` is called with the program while it and its library still exist."""
    from tests.conftest import run_ttdbg

    libdir = tmp / "libdir"
    libdir.mkdir()
    lib = compile_source(libdir, "libmine.so", LIBRARY, "-shared", "-fPIC", arch=arch)
    if keep_copy is not None:
        shutil.copy(lib, keep_copy)
    prog = compile_source(
        tmp, "uses", USES_LIBRARY, f"-L{libdir}", "-lmine", f"-Wl,-rpath,{libdir}", arch=arch
    )
    rec = tmp / "uses.ttrec"
    proc = run_ttdbg(
        ["record", "--snapshot-every", "20000", "-o", str(rec), "--", str(prog)], timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    if before_delete is not None:
        before_delete(prog)
    shutil.rmtree(libdir)
    prog.unlink()
    return rec, str(lib)


READS_FILES = r"""
#include <stdio.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/mman.h>
/* Reads argv[1] whole three times (read, pread), maps it too, and rewrites and rereads
   argv[2] through a descriptor open for writing. */
int main(int argc, char **argv) {
    char buf[3000];
    unsigned long sum = 0;
    for (int k = 0; k < 3; k++) {
        int fd = open(argv[1], O_RDONLY);
        ssize_t n;
        off_t at = sum % 512;
        while ((n = k == 1 ? pread(fd, buf, sizeof buf, at) : read(fd, buf, sizeof buf)) > 0) {
            for (ssize_t i = 0; i < n; i++) sum = sum * 31 + (unsigned char)buf[i];
            if (k == 1) break;
        }
        unsigned char *m = mmap(0, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
        sum += m[5];
        close(fd);
    }
    int fd = open(argv[2], O_RDWR | O_CREAT | O_TRUNC, 0644);
    for (int k = 0; k < 3; k++) {
        char line[64];
        int len = snprintf(line, sizeof line, "line %d %lu\n", k, sum % 1000);
        write(fd, line, len);
        lseek(fd, 0, SEEK_SET);
        ssize_t n = read(fd, buf, sizeof buf);
        sum += n;
        lseek(fd, 0, SEEK_END);
    }
    close(fd);
    printf("sum %lu\n", sum);
    return 0;
}
"""

MAPPING_EDGES = r"""
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
/* /dev/zero mappings, SIGBUS past the end of a mapped file, mprotect on shared mappings. */
static sigjmp_buf back;
static void on_signal(int sig) { siglongjmp(back, sig); }
static int touch(volatile char *p) {
    int sig = sigsetjmp(back, 1);
    if (sig == 0) { char c = *p; (void)c; return 0; }
    return sig;
}
int main(int argc, char **argv) {
    signal(SIGBUS, on_signal);
    signal(SIGSEGV, on_signal);
    int zero = open("/dev/zero", O_RDWR);
    char *priv = mmap(0, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE, zero, 0);
    char *shar = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, zero, 0);
    printf("/dev/zero private %s shared %s\n", priv == MAP_FAILED ? strerror(errno) : "mapped",
           shar == MAP_FAILED ? strerror(errno) : "mapped");
    if (priv != MAP_FAILED && shar != MAP_FAILED) {
        strcpy(priv + 5000, "written"); strcpy(shar, "shared");
        printf("zeros %d %d, then %s %s\n", priv[100], priv[8191], priv + 5000, shar);
    }
    int fd = open(argv[1], O_RDONLY);  /* a file of 100 bytes */
    char *m = mmap(0, 3 * 4096, PROT_READ, MAP_PRIVATE, fd, 0);
    printf("in the file %c, past its end in the page %d\n", m[50], m[200]);
    printf("next page: signal %d, last page: signal %d\n", touch(m + 4096), touch(m + 8191));
    mprotect(m, 3 * 4096, PROT_READ | PROT_WRITE);
    printf("after mprotect: signal %d\n", touch(m + 5000));
    char *s = mmap(0, 4096, PROT_READ, MAP_SHARED, fd, 0);
    int r = mprotect(s, 4096, PROT_READ | PROT_WRITE);
    printf("mprotect writable, shared, read-only fd: %s\n", r ? strerror(errno) : "ok");
    munmap(s, 4096);  /* ttdbg refuses two shared mappings of a page one of them may write */
    int rw = open(argv[1], O_RDWR);
    char *s2 = mmap(0, 4096, PROT_READ, MAP_SHARED, rw, 0);
    r = mprotect(s2, 4096, PROT_READ | PROT_WRITE);
    printf("mprotect writable, shared, read-write fd: %s\n", r ? strerror(errno) : "ok");
    if (r == 0) {
        char c = 0;
        s2[10] = 'W';
        printf("pread sees the store: %c\n", pread(rw, &c, 1, 10) == 1 ? c : '?');
    }
    return 0;
}
"""


# Two libraries of the same shape: one function each at the same offset, so a library
# loaded where the other was unloaded runs its function at the other's old address.
TARGET_LIBRARY = "int target_fn(int v) { int r = v * 3; return r + 1; }\n"
OTHER_LIBRARY = "int other_fn(int v) { int r = v * 5; return r + 2; }\n"

# dlopen libtarget (at A), call it, dlclose it; dlopen libother (at A again), call it; dlopen
# libtarget again (elsewhere: B), call it, call libother's function (at A); dlclose both.
# Each address is printed as dlsym gives it, unbuffered, so the log shows when it held.
RELOADS = r"""
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
typedef int (*fn_t)(int);
static void *load(const char *path, const char *name, fn_t *fn) {
    void *h = dlopen(path, RTLD_NOW);
    if (!h) { printf("dlopen failed: %s\n", dlerror()); exit(1); }
    *fn = (fn_t)dlsym(h, name);
    printf("%s at %p\n", name, (void *)*fn);
    return h;
}
int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IONBF, 0);
    fn_t target, other;
    int total = 0;
    void *t = load(argv[1], "target_fn", &target);
    total += target(1);
    dlclose(t);
    printf("closed target_fn\n");
    void *o = load(argv[2], "other_fn", &other);
    total += other(2);
    t = load(argv[1], "target_fn", &target);
    total += target(3);
    total += other(4);
    dlclose(t);
    printf("closed target_fn\n");
    dlclose(o);
    printf("total %d\n", total);
    return 0;
}
"""


def build_reloads(tmp: Path, arch: str = "x86_64") -> list[str]:
    """RELOADS and its two libraries built in `tmp`: the program's argv."""
    shared = ("-shared", "-fPIC")
    target = compile_source(tmp, "libtarget.so", TARGET_LIBRARY, *shared, arch=arch)
    other = compile_source(tmp, "libother.so", OTHER_LIBRARY, *shared, arch=arch)
    prog = compile_source(tmp, "reloads", RELOADS, "-ldl", arch=arch)
    return [str(prog), str(target), str(other)]


# Two libraries that define the same function, and a program with a static function of one
# name in each of its two files: gdb's `break dup_fn` and `break twin` have two locations each.
DUP_LIBRARY_A = "int dup_fn(int v) { int r = v * 3; return r + 1; }\n"
DUP_LIBRARY_B = "int dup_fn(int v) { int r = v * 5; return r + 2; }\n"
TWINS_AUX = r"""
static int twin(int v) { int r = v + 100; return r; }
int aux_twin(int v) { return twin(v); }
void *aux_twin_address(void) { return (void *)twin; }
"""
# dlopen both (each dup_fn is its own: RTLD_LOCAL), call A's, B's, A's, then each twin. The
# addresses are printed as dlsym and the program see them, unbuffered, for the oracle.
TWINS = r"""
#include <dlfcn.h>
#include <stdio.h>
typedef int (*fn_t)(int);
int aux_twin(int v);
void *aux_twin_address(void);
static int twin(int v) { int r = v + 10; return r; }
int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IONBF, 0);
    void *a = dlopen(argv[1], RTLD_NOW), *b = dlopen(argv[2], RTLD_NOW);
    if (!a || !b) { printf("dlopen failed: %s\n", dlerror()); return 1; }
    fn_t fa = (fn_t)dlsym(a, "dup_fn"), fb = (fn_t)dlsym(b, "dup_fn");
    printf("a %p b %p main %p aux %p\n", (void *)fa, (void *)fb, (void *)twin,
           aux_twin_address());
    int total = fa(1) + fb(2) + fa(3) + twin(4) + aux_twin(5);
    printf("total %d\n", total);
    return 0;
}
"""


def build_twins(tmp: Path, arch: str = "x86_64") -> list[str]:
    """TWINS (two files) and its two libraries built in `tmp`: the program's argv."""
    shared = ("-shared", "-fPIC")
    liba = compile_source(tmp, "liba.so", DUP_LIBRARY_A, *shared, arch=arch)
    libb = compile_source(tmp, "libb.so", DUP_LIBRARY_B, *shared, arch=arch)
    aux = tmp / "aux.c"
    aux.write_text(TWINS_AUX)
    prog = compile_source(tmp, "twins", TWINS, str(aux), "-ldl", arch=arch)
    return [str(prog), str(liba), str(libb)]
