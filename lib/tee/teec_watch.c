/* The teec backend's deadline watch: GP has no timeout on TEEC_InvokeCommand, so one
 * thread per handle (started at the first call with a deadline) waits for the deadline
 * of the running command and asks for its cancellation when it passes. A TA that honours
 * cancellation then returns TEEC_ERROR_CANCEL, which the backend reports as
 * OTRP_ERR_TIMEOUT.
 *
 * Once a command is to be cancelled (deadline, or otrp_agent_cancel()), the watch repeats
 * the request every CANCEL_REPEAT_MS while that command runs: OP-TEE's libteec drops a
 * request that arrives before TEEC_InvokeCommand has recorded its session in the
 * operation, although GP says such a request must cancel the command when it starts. */
#include <errno.h>
#include <time.h>

#include "tee/teec_internal.h"

/* How often a wanted cancellation is asked for again while the command runs. */
#define CANCEL_REPEAT_MS 100u

static struct timespec monotonic_at(uint64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000u), (long)(ms % 1000u) * 1000000L};
    return ts;
}

static void *watch(void *arg)
{
    otrp__teec *t = arg;
    pthread_mutex_lock(&t->cancel_lock);
    while (!t->watch_stop) {
        if (t->running != NULL && (t->timed_out || t->cancel_wanted)) {
            t->api.request_cancellation(t->running);
            struct timespec until = monotonic_at(otrp_monotonic_ms() + CANCEL_REPEAT_MS);
            (void)pthread_cond_timedwait(&t->watch_wake, &t->cancel_lock, &until);
        } else if (t->running != NULL && t->running_deadline != 0) {
            if (otrp_monotonic_ms() >= t->running_deadline) {
                t->timed_out = 1; /* asked for in the branch above */
                continue;
            }
            struct timespec until = monotonic_at(t->running_deadline);
            (void)pthread_cond_timedwait(&t->watch_wake, &t->cancel_lock, &until);
        } else {
            (void)pthread_cond_wait(&t->watch_wake, &t->cancel_lock);
        }
    }
    pthread_mutex_unlock(&t->cancel_lock);
    return NULL;
}

int otrp__teec_watch_init(otrp__teec *t)
{
    pthread_condattr_t attr;
    if (pthread_condattr_init(&attr) != 0)
        return -1;
    int rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    if (rc == 0)
        rc = pthread_cond_init(&t->watch_wake, &attr);
    (void)pthread_condattr_destroy(&attr);
    return rc == 0 ? 0 : -1;
}

void otrp__teec_watch_start(otrp__teec *t)
{
    if (t->watch_started)
        return;
    /* Without the thread (no resources) deadlines are still checked between commands. */
    t->watch_started = pthread_create(&t->watch_thread, NULL, watch, t) == 0;
}

void otrp__teec_watch_end(otrp__teec *t)
{
    if (t->watch_started) {
        pthread_mutex_lock(&t->cancel_lock);
        t->watch_stop = 1;
        pthread_cond_signal(&t->watch_wake);
        pthread_mutex_unlock(&t->cancel_lock);
        (void)pthread_join(t->watch_thread, NULL);
        t->watch_started = 0;
    }
    (void)pthread_cond_destroy(&t->watch_wake);
}
