/* /proc/cpuinfo against what the CPU itself says: as many processors as are online, and on
   x86-64 the vendor, family, model, stepping, brand and feature flags CPUID answers; on
   AArch64 and RISC-V the features AT_HWCAP gives. One transcript on every architecture. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>
#ifdef __x86_64__
#include <cpuid.h>
#endif

static char info[65536];

/* The value of the first line named `name`, or "" when there is none. */
static const char *value(const char *name) {
    static char out[4096];
    size_t len = strlen(name);
    for (char *line = info; *line; line = strchr(line, '\n') + 1) {
        if (!strncmp(line, name, len) && (line[len] == '\t' || line[len] == ':')) {
            char *v = strchr(line, ':') + 1, *end = strchr(line, '\n');
            while (*v == ' ') v++;
            snprintf(out, sizeof out, "%.*s", (int)(end - v), v);
            return out;
        }
        if (!strchr(line, '\n')) break;
    }
    return "";
}

/* Whether the space-separated list holds `word`. */
__attribute__((unused)) static int listed(const char *list, const char *word) {
    size_t len = strlen(word);
    for (const char *p = list; (p = strstr(p, word)); p += len)
        if ((p == list || p[-1] == ' ') && (p[len] == ' ' || p[len] == 0)) return 1;
    return 0;
}

int main(void) {
    FILE *f = fopen("/proc/cpuinfo", "r");
    size_t n = f ? fread(info, 1, sizeof info - 1, f) : 0;
    info[n] = 0;
    if (f) fclose(f);
    int processors = 0;
    for (char *line = info; *line; line = strchr(line, '\n') + 1) {
        if (!strncmp(line, "processor", 9)) processors++;
        if (!strchr(line, '\n')) break;
    }
    printf("processors listed are those online: %d\n",
           processors == sysconf(_SC_NPROCESSORS_ONLN));
    int same_model = 1, same_flags = 1;
#ifdef __x86_64__
    unsigned a, b, c, d;
    __cpuid(0, a, b, c, d);
    char vendor[13];
    memcpy(vendor, &b, 4), memcpy(vendor + 4, &d, 4), memcpy(vendor + 8, &c, 4);
    vendor[12] = 0;
    same_model &= !strcmp(value("vendor_id"), vendor);
    same_model &= atoi(value("cpuid level")) == (int)a;
    __cpuid(1, a, b, c, d);
    /* As Linux's x86_family and x86_model read them. */
    unsigned family = a >> 8 & 0xf, model = a >> 4 & 0xf;
    if (family == 0xf) family += a >> 20 & 0xff;
    if (family >= 6) model |= a >> 12 & 0xf0;
    same_model &= atoi(value("cpu family")) == (int)family && atoi(value("model")) == (int)model;
    same_model &= atoi(value("stepping")) == (int)(a & 0xf);
    const char *flags = value("flags");
    struct { const char *name; unsigned reg, bit; } bits[] = {
        {"sse2", d, 26}, {"ssse3", c, 9}, {"sse4_1", c, 19}, {"sse4_2", c, 20},
        {"popcnt", c, 23}, {"aes", c, 25}, {"avx", c, 28}, {"rdrand", c, 30},
        {"fma", c, 12}, {"f16c", c, 29}, {"movbe", c, 22},
    };
    for (unsigned i = 0; i < sizeof bits / sizeof bits[0]; i++)
        same_flags &= listed(flags, bits[i].name) == (int)(bits[i].reg >> bits[i].bit & 1);
    __cpuid_count(7, 0, a, b, c, d);
    same_flags &= listed(flags, "avx2") == (int)(b >> 5 & 1);
    same_flags &= listed(flags, "bmi2") == (int)(b >> 8 & 1);
    char brand[49] = {0};
    for (unsigned leaf = 0; leaf < 3; leaf++) {
        __cpuid(0x80000002 + leaf, a, b, c, d);
        memcpy(brand + 16 * leaf, &a, 4), memcpy(brand + 16 * leaf + 4, &b, 4);
        memcpy(brand + 16 * leaf + 8, &c, 4), memcpy(brand + 16 * leaf + 12, &d, 4);
    }
    char *start = brand;
    while (*start == ' ') start++;
    same_model &= !strcmp(value("model name"), start);
#elif defined(__aarch64__)
    unsigned long hwcap = getauxval(AT_HWCAP);
    const char *features = value("Features");
    same_flags &= listed(features, "fp") == (int)(hwcap & 1);
    same_flags &= listed(features, "asimd") == (int)(hwcap >> 1 & 1);
    same_flags &= listed(features, "aes") == (int)(hwcap >> 3 & 1);
    same_model &= value("CPU implementer")[0] != 0 && value("CPU part")[0] != 0;
#elif defined(__riscv)
    unsigned long hwcap = getauxval(AT_HWCAP);
    const char *isa = value("isa");
    if (strncmp(isa, "rv64", 4)) {
        printf("isa: %s\n", isa);
        return 1;
    }
    size_t letters = strcspn(isa + 4, "_");  /* the single-letter extensions */
    for (const char *letter = "imafdcv"; *letter; letter++) {
        const char *at = memchr(isa + 4, *letter, letters);
        same_flags &= (at != NULL) == (int)(hwcap >> (*letter - 'a') & 1);
    }
#endif
    printf("the model is the CPU's: %d\nthe flags are the CPU's: %d\n", same_model, same_flags);
    return 0;
}
