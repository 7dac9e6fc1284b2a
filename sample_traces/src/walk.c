/* A small -g program for debugger tests: a global, locals, a function called many times,
 * and a recursive one. */
#include <stdio.h>

int counter;
int history[16];

static int step_value(int x, int round) {
    int doubled = x * 2;
    counter += doubled + round;
    history[round % 16] = counter;
    return doubled + 1;
}

static int depth(int n) {
    if (n == 0)
        return counter % 7;
    return depth(n - 1) + 1;
}

int main(void) {
    int x = 1;
    for (int round = 0; round < 40; round++) {
        x = step_value(x % 1000, round);
    }
    int d = depth(3);
    printf("counter=%d x=%d depth=%d\n", counter, x, d);
    return 0;
}
