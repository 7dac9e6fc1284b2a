/* The smallest useful guest: prints its arguments and exits with status 0. */
#include <stdio.h>

int main(int argc, char **argv) {
    printf("hello from ttdbg's sample, argc=%d\n", argc);
    for (int i = 1; i < argc; i++) printf("argv[%d] = %s\n", i, argv[i]);
    return 0;
}
