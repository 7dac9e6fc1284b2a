/* Ends through abort(): the recording must end with SIGABRT, status 134 in a shell. */
#include <stdio.h>
#include <stdlib.h>

int main(void) {
    puts("about to abort");
    fflush(stdout);
    abort();
}
