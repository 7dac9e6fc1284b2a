/* /proc/self/maps lines as text: an anonymous mapping's line after its address range (Linux
   ends it with a space: the header is printed with one, and no name follows) and where the
   stack's name starts. Addresses and file identities are left out: they differ natively. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static char text[65536];

int main(void) {
    char *page = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    mprotect(page + 4096, 4096, PROT_READ);  /* two lines: rw-p and r--p */
    int fd = open("/proc/self/maps", O_RDONLY);
    size_t n = 0;
    ssize_t got;
    while ((got = read(fd, text + n, sizeof text - 1 - n)) > 0)
        n += got;
    text[n] = 0;
    char mine[32];
    snprintf(mine, sizeof mine, "%lx-", (unsigned long)page);
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        char *rest = strchr(line, ' ');
        if (!strncmp(line, mine, strlen(mine)))
            printf("mine: [%s]\n", rest + 1);
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx", &lo, &hi) == 2 && lo == (unsigned long)page + 4096)
            printf("second: [%s]\n", rest + 1);
        char *stack = strstr(line, "[stack]");
        if (stack)
            printf("stack: name at column %d, [%.*s]\n", (int)(stack - line),
                   (int)(stack - rest - 1), rest + 1);
    }
    return 0;
}
