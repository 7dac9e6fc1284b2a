/* A bug to chase backwards: an off-by-one loop writes past `scores` into `limit`. */
#include <stdio.h>

/* Both live in .data, in this order (the build keeps declaration order). */
int scores[8] = {1};
int limit = 100;

static void fill(int n) {
    for (int i = 0; i <= n; i++) /* the bug: <= writes scores[8], which is `limit` */
        scores[i] = i * 7;
}

int main(void) {
    printf("limit before: %d\n", limit);
    fill(8);
    int total = 0;
    for (int i = 0; i < 8; i++) total += scores[i];
    printf("total %d, limit after: %d\n", total, limit);
    return limit == 100 ? 0 : 1;
}
