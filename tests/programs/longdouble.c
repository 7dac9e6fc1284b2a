/* x87 arithmetic after a long double -> integer cast: the cast saves and restores the control
 * word (fnstcw/fldcw), so a wrong initial control word changes every later result. The sums
 * follow SQLite's avg(): doubles accumulated in a long double, divided, rounded to double. */
#include <stdio.h>

int main(void)
{
    volatile long double seed = 1234.5678L;
    long whole = (long)seed; /* fnstcw, fldcw (truncate), fistp, fldcw (restore) */
    volatile double values[] = {0.1, 0.2, 0.3, 1.0 / 3.0, 2.0 / 7.0, 1e-9, 12345.6789};
    long double sum = 0;
    for (unsigned i = 0; i < sizeof values / sizeof values[0]; i++)
        sum += values[i];
    volatile long double three = 3;
    long double third = 1 / three;
    double avg = (double)(sum / 7);
    printf("whole=%ld\n", whole);
    printf("third=%La\n", third);
    printf("sum=%La\n", sum);
    printf("avg=%a %.17g\n", avg, avg);
    printf("scaled=%.17g\n", avg * 1000.0 + 0.5);
    return 0;
}
