/* The teec backend's private structures, shared by its files and its tests. */
#ifndef OTRP_TEE_TEEC_INTERNAL_H
#define OTRP_TEE_TEEC_INTERNAL_H

#include <pthread.h>
#include <stdint.h>

#include "otrp/ta_protocol.h"
#include "otrp/tee.h"
#include "tee/teec_gp.h"

/* libteec, loaded: its handle and the functions the backend calls. */
typedef struct otrp__teec_api {
    void *handle;        /* dlopen handle */
    char library[256];   /* the name or path it was loaded by */
    otrp__teec_initialize_context_fn initialize_context;
    otrp__teec_finalize_context_fn finalize_context;
    otrp__teec_open_session_fn open_session;
    otrp__teec_close_session_fn close_session;
    otrp__teec_invoke_command_fn invoke_command;
    otrp__teec_request_cancellation_fn request_cancellation;
} otrp__teec_api;

typedef struct otrp__teec {
    otrp__teec_api api;
    otrp__teec_uuid uuid;
    char uuid_text[40];
    char *tee_name;          /* TEEC_InitializeContext name (malloc) or NULL */
    int have_context;
    int have_session;
    otrp__teec_context context;
    otrp__teec_session session;
    /* Output buffers handed to the TA, grown on SHORT_BUFFER up to the call's limit. */
    unsigned char *scratch[OTRP_TA_MAX_FIELDS];
    size_t scratch_cap[OTRP_TA_MAX_FIELDS];
    size_t offered[OTRP_TA_MAX_FIELDS]; /* output sizes offered in the running command */
    char detail[256];        /* why the last operation failed (ops->last_error) */
    pthread_mutex_t cancel_lock;     /* guards running and the watch fields */
    otrp__teec_operation *running;   /* the command in the TEE, for the cancel hook */
    uint64_t running_deadline;       /* its deadline (otrp_monotonic_ms), 0 = none */
    int timed_out;                   /* the watch cancelled it at the deadline */
    int cancel_wanted;               /* otrp_agent_cancel() asked to stop it */
    pthread_cond_t watch_wake;       /* CLOCK_MONOTONIC; a command started, or stop */
    pthread_t watch_thread;
    int watch_started;
    int watch_stop;
} otrp__teec;

/* The deadline watch (teec_watch.c): init the condition variable (0 or -1); start the
 * thread if not yet running (best effort); stop it and release what init made. */
int otrp__teec_watch_init(otrp__teec *t);
void otrp__teec_watch_start(otrp__teec *t);
void otrp__teec_watch_end(otrp__teec *t);

/* Load libteec: library (a name or path), or NULL for the default names in turn.
 * OTRP_ERR_TEE_UNAVAILABLE when none loads or one lacks a function (why says which). */
otrp_status otrp__teec_load(otrp__teec_api *api, const char *library, char *why, size_t why_cap);

/* Unload what otrp__teec_load() loaded. */
void otrp__teec_unload(otrp__teec_api *api);

/* Parse "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"; 0 on success, -1 otherwise. */
int otrp__teec_parse_uuid(const char *text, otrp__teec_uuid *uuid);

#endif
