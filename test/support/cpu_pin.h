/* Pinning a benchmark to one CPU (test support for bench/). */
#ifndef OTRP_TEST_SUPPORT_CPU_PIN_H
#define OTRP_TEST_SUPPORT_CPU_PIN_H

/*
 * Keep the calling thread, and every thread it starts afterwards, on the CPU it runs on
 * now. A loopback benchmark whose server threads land on another CPU than the client
 * pays a cross-CPU wake-up per message, and where the scheduler puts them changes from
 * run to run: on one CPU the client and every server thread pay the same switches.
 * Returns 0, or -1 (with a line on stderr) when the affinity cannot be set.
 */
int bench_pin_to_one_cpu(void);

#endif
