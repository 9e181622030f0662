#define _GNU_SOURCE /* sched_setaffinity, sched_getcpu */
#include "cpu_pin.h"

#include <sched.h>
#include <stdio.h>

int bench_pin_to_one_cpu(void)
{
    int cpu = sched_getcpu();
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET((size_t)(cpu < 0 ? 0 : cpu), &set);
    if (sched_setaffinity(0, sizeof set, &set) != 0) {
        fprintf(stderr, "cannot pin the benchmark to one CPU; figures will be noisy\n");
        return -1;
    }
    return 0;
}
