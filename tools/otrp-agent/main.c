/*
 * otrp-agent: the OTrP Agent on the command line. Runs RequestTA / UnrequestTA / policy
 * check sessions with a TAM, relays one message, or shows the device state, through
 * libotrp with the TEEs named by --tee.
 *
 * Exit status: 0 success; 1 the operation failed (one line on stderr names the status
 * and says why); 2 the command line is wrong.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "otrp/otrp.h"
#include "tee_spec.h"

#define PROGRAM "otrp-agent"
#define EXIT_USAGE 2
/* Pins are joined into one curl-style list; this is far more than a few pins need. */
#define PINS_MAX 1024

/* --help: USAGE_HEAD, the TEE kinds this binary was built with, USAGE_TAIL. */
static const char USAGE_HEAD[] =
    "usage: " PROGRAM " [options] COMMAND [ARGS]\n"
    "\n"
    "Commands:\n"
    "  request-ta TAID     ask the TEE for TA TAID, then run the session with the TAM\n"
    "  unrequest-ta TAID   tell the TEE TA TAID is no longer needed, then run the session\n"
    "  policy-check        ask every TEE whether its TAM has work, and run those sessions\n"
    "  relay               read one TAM message on stdin, write the TEE's answer on stdout\n"
    "  state               print the agent's view of the device (JSON)\n"
    "  ta-info SPID TAID   print the TEE's signed TAInformation about a TA\n"
    "\n"
    "Options:\n"
    "  --tee KIND:ARG      a TEE (repeatable, in order); this otrp-agent has:\n";
static const char USAGE_TAIL[] =
    "  --tam URL           the TAM (default: the one the TEE is configured with)\n"
    "  --cacert FILE       PEM CA bundle the TAM certificate must chain to\n"
    "                      (default: the system store)\n"
    "  --pin sha256//B64   accept only a TAM key with this SPKI hash (repeatable)\n"
    "  --allow-http        allow plain http:// TAM URLs (default: https only)\n"
    "  --proxy URL         reach the TAM through this proxy (http://, https://,\n"
    "                      socks4://, socks4a://, socks5:// or socks5h://HOST:PORT)\n"
    "  --noproxy LIST      hosts reached without the proxy (comma-separated, * = all)\n"
    "  --proxy-from-env    use the proxy variables of the environment (https_proxy,\n"
    "                      http_proxy, ALL_PROXY, NO_PROXY); default: ignored\n"
    "  --allow-keylog      run sessions while SSLKEYLOGFILE is set (TLS secrets are\n"
    "                      then written to that file); default: refused\n"
    "  --timeout SEC       limit of one TAM exchange and of one TEE call (default 60/30)\n"
    "  --session-timeout SEC  limit of a whole session, every POST, retry and TEE call\n"
    "                      included (default 300; 0: none)\n"
    "  --max-message BYTES largest message accepted or produced (default 16777216)\n"
    "  -v, --verbose       say what happens (twice: more)\n"
    "  -q, --quiet         no progress lines\n"
    "  -h, --help          this text\n"
    "  -V, --version       the version\n"
    "\n"
    "Exit status: 0 success, 1 the operation failed, 2 bad command line.\n";

struct options {
    otrp_agent_config cfg;
    const char *tees[OTRP_MAX_TEES];
    size_t tee_count;
    const char *tam;
    char pins[PINS_MAX];
    int verbose;
    int quiet;
};

static void usage_error(const char *what)
{
    fprintf(stderr, PROGRAM ": %s\nTry '" PROGRAM " --help'.\n", what);
    exit(EXIT_USAGE);
}

static unsigned long parse_number(const char *text, const char *option, unsigned long max)
{
    char *end = NULL;
    unsigned long v = strtoul(text, &end, 10);
    if (text[0] < '0' || text[0] > '9' || *end != '\0' || v == 0 || v > max) {
        char what[128];
        snprintf(what, sizeof what, "%s wants a number from 1 to %lu, not '%s'", option, max, text);
        usage_error(what);
    }
    return v;
}

static void log_line(void *user, otrp_log_level level, const char *msg)
{
    (void)user;
    static const char *const names[] = {"debug", "info", "warning", "error", ""};
    fprintf(stderr, PROGRAM ": %s: %s\n", names[level], msg);
}

static void progress_line(void *user, const otrp_progress *p)
{
    (void)user;
    switch (p->stage) {
    case OTRP_STAGE_TEE_REQUEST:
        fprintf(stderr, "  asking the TEE\n");
        break;
    case OTRP_STAGE_POST:
        fprintf(stderr, "  POST #%u to the TAM (%llu bytes sent, %llu received so far)\n",
                p->round_trip, p->bytes_sent, p->bytes_received);
        break;
    case OTRP_STAGE_TEE_PROCESS:
        fprintf(stderr, "  TEE processing the TAM's message #%u\n", p->round_trip);
        break;
    case OTRP_STAGE_DONE:
    default:
        break;
    }
}

static void parse_options(int argc, char **argv, struct options *o)
{
    enum {
        OPT_TEE = 256,
        OPT_TAM,
        OPT_CACERT,
        OPT_PIN,
        OPT_ALLOW_HTTP,
        OPT_TIMEOUT,
        OPT_PROXY,
        OPT_NOPROXY,
        OPT_PROXY_FROM_ENV,
        OPT_ALLOW_KEYLOG,
        OPT_SESSION_TIMEOUT,
        OPT_MAX
    };
    static const struct option longopts[] = {
        {"tee", required_argument, NULL, OPT_TEE},
        {"tam", required_argument, NULL, OPT_TAM},
        {"cacert", required_argument, NULL, OPT_CACERT},
        {"pin", required_argument, NULL, OPT_PIN},
        {"allow-http", no_argument, NULL, OPT_ALLOW_HTTP},
        {"timeout", required_argument, NULL, OPT_TIMEOUT},
        {"session-timeout", required_argument, NULL, OPT_SESSION_TIMEOUT},
        {"max-message", required_argument, NULL, OPT_MAX},
        {"proxy", required_argument, NULL, OPT_PROXY},
        {"noproxy", required_argument, NULL, OPT_NOPROXY},
        {"proxy-from-env", no_argument, NULL, OPT_PROXY_FROM_ENV},
        {"allow-keylog", no_argument, NULL, OPT_ALLOW_KEYLOG},
        {"verbose", no_argument, NULL, 'v'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    otrp_agent_config_init(&o->cfg);
    int c;
    while ((c = getopt_long(argc, argv, "+vqhV", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_TEE:
            if (o->tee_count == OTRP_MAX_TEES)
                usage_error("too many --tee options");
            o->tees[o->tee_count++] = optarg;
            break;
        case OPT_TAM:
            o->tam = optarg;
            break;
        case OPT_CACERT:
            o->cfg.ca_file = optarg;
            break;
        case OPT_PIN:
            if (strncmp(optarg, "sha256//", 8) != 0)
                usage_error("--pin wants sha256//<base64 of the SPKI hash>");
            if (strlen(o->pins) + strlen(optarg) + 2 > sizeof o->pins)
                usage_error("too many --pin options");
            if (o->pins[0] != '\0')
                strcat(o->pins, ";");
            strcat(o->pins, optarg);
            break;
        case OPT_ALLOW_HTTP:
            o->cfg.allow_http = 1;
            break;
        case OPT_TIMEOUT: {
            unsigned ms = (unsigned)parse_number(optarg, "--timeout", 86400) * 1000u;
            o->cfg.http_timeout_ms = ms;
            o->cfg.tee_timeout_ms = ms;
            break;
        }
        case OPT_SESSION_TIMEOUT: /* 0 turns the bound off */
            o->cfg.session_timeout_ms =
                strcmp(optarg, "0") == 0
                    ? 0u
                    : (unsigned)parse_number(optarg, "--session-timeout", 86400) * 1000u;
            break;
        case OPT_MAX:
            o->cfg.max_message_size = parse_number(optarg, "--max-message", 1ul << 30);
            break;
        case OPT_PROXY:
            o->cfg.proxy = optarg;
            break;
        case OPT_NOPROXY:
            o->cfg.noproxy = optarg;
            break;
        case OPT_PROXY_FROM_ENV:
            o->cfg.proxy_from_env = 1;
            break;
        case OPT_ALLOW_KEYLOG:
            o->cfg.allow_keylog = 1;
            break;
        case 'v':
            o->verbose++;
            break;
        case 'q':
            o->quiet = 1;
            break;
        case 'h':
            fputs(USAGE_HEAD, stdout);
            cli_print_tee_kinds(stdout);
            fputs(USAGE_TAIL, stdout);
            exit(EXIT_SUCCESS);
        case 'V':
            printf(PROGRAM " (libotrp) %s\n", otrp_version());
            exit(EXIT_SUCCESS);
        default:
            usage_error("unknown option");
        }
    }
    if (o->pins[0] != '\0')
        o->cfg.pinned_keys = o->pins;
    if (o->verbose > 0) {
        o->cfg.log = log_line;
        o->cfg.log_level = o->verbose > 1 ? OTRP_LOG_DEBUG : OTRP_LOG_INFO;
    }
    if (!o->quiet && isatty(STDERR_FILENO)) {
        o->cfg.progress = progress_line;
    }
}

/* One line naming the status and saying why; exit status 1. */
static int failed(otrp_agent *agent, otrp_status st, const char *what)
{
    const char *detail = agent != NULL ? otrp_agent_last_error(agent) : "";
    fprintf(stderr, PROGRAM ": %s failed: %s (%s)%s%s\n", what, otrp_status_name(st),
            otrp_strerror(st), detail[0] ? ": " : "", detail);
    return EXIT_FAILURE;
}

/* Read all of stdin, at most max bytes. */
static otrp_status read_stdin(size_t max, char **out, size_t *len)
{
    otrp_buf buf = {0};
    buf.max = max;
    char chunk[65536];
    size_t n;
    otrp_status st = OTRP_OK;
    while (st == OTRP_OK && (n = fread(chunk, 1, sizeof chunk, stdin)) > 0)
        st = otrp_buf_append(&buf, chunk, n);
    if (st == OTRP_OK && ferror(stdin))
        st = OTRP_ERR_IO;
    if (st != OTRP_OK) {
        otrp_buf_free(&buf);
        return st;
    }
    *out = (char *)buf.data;
    *len = buf.len;
    return OTRP_OK;
}

static int write_all(const char *data, size_t len)
{
    return fwrite(data, 1, len, stdout) == len && fputc('\n', stdout) != EOF &&
           fflush(stdout) == 0;
}

static int cmd_relay(otrp_agent *agent, const otrp_agent_config *cfg)
{
    char *msg = NULL;
    size_t len = 0;
    otrp_status st = read_stdin(cfg->max_message_size, &msg, &len);
    if (st != OTRP_OK) {
        fprintf(stderr, PROGRAM ": relay failed: %s (%s): reading stdin\n", otrp_status_name(st),
                otrp_strerror(st));
        return EXIT_FAILURE;
    }
    char *answer = NULL;
    size_t answer_len = 0;
    st = otrp_agent_process(agent, msg, len, &answer, &answer_len);
    free(msg);
    int ok = answer == NULL || write_all(answer, answer_len); /* a broker error too */
    otrp_free(answer);
    if (st != OTRP_OK)
        return failed(agent, st, "relay");
    if (!ok) {
        fprintf(stderr, PROGRAM ": relay failed: cannot write stdout\n");
        return EXIT_FAILURE;
    }
    return EXIT_SUCCESS;
}

static int print_document(otrp_agent *agent, otrp_status st, char *doc, size_t len,
                          const char *what)
{
    if (st != OTRP_OK)
        return failed(agent, st, what);
    int ok = write_all(doc, len);
    otrp_free(doc);
    return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}

static int run(otrp_agent *agent, const struct options *o, int argc, char **argv)
{
    const char *cmd = argv[0];
    int args = argc - 1;
    char *doc = NULL;
    size_t len = 0;
    otrp_status st;
    if (strcmp(cmd, "request-ta") == 0 && args == 1) {
        st = otrp_agent_request_ta(agent, argv[1], o->tam);
        return st == OTRP_OK ? EXIT_SUCCESS : failed(agent, st, "request-ta");
    }
    if (strcmp(cmd, "unrequest-ta") == 0 && args == 1) {
        st = otrp_agent_unrequest_ta(agent, argv[1], o->tam);
        return st == OTRP_OK ? EXIT_SUCCESS : failed(agent, st, "unrequest-ta");
    }
    if (strcmp(cmd, "policy-check") == 0 && args == 0) {
        st = otrp_agent_policy_check(agent, o->tam);
        return st == OTRP_OK ? EXIT_SUCCESS : failed(agent, st, "policy-check");
    }
    if (strcmp(cmd, "relay") == 0 && args == 0)
        return cmd_relay(agent, &o->cfg);
    if (strcmp(cmd, "state") == 0 && args == 0) {
        st = otrp_get_device_state(agent, &doc, &len);
        return print_document(agent, st, doc, len, "state");
    }
    if (strcmp(cmd, "ta-info") == 0 && args == 2) {
        st = otrp_get_ta_information(agent, argv[1], argv[2], &doc, &len);
        return print_document(agent, st, doc, len, "ta-info");
    }
    usage_error("unknown command or wrong number of arguments");
    return EXIT_USAGE;
}

int main(int argc, char **argv)
{
    struct options o;
    memset(&o, 0, sizeof o);
    parse_options(argc, argv, &o);
    if (optind >= argc)
        usage_error("no command given");
    if (o.tee_count == 0)
        usage_error("no TEE given (--tee KIND:ARG; --help lists the kinds)");
    otrp_agent *agent = NULL;
    char why[512];
    otrp_status st = otrp_agent_config_check(&o.cfg, why, sizeof why);
    if (st != OTRP_OK) {
        /* A value the options let through (a --proxy URL, a --pin) is malformed. */
        fprintf(stderr, PROGRAM ": %s\nTry '" PROGRAM " --help'.\n", why);
        return EXIT_USAGE;
    }
    st = otrp_agent_new(&o.cfg, &agent);
    if (st != OTRP_OK)
        return failed(NULL, st, "setting up the agent");
    for (size_t i = 0; i < o.tee_count; i++) {
        otrp_tee *tee = NULL;
        char detail[256];
        st = cli_open_tee(o.tees[i], &tee, detail, sizeof detail);
        if (st == OTRP_OK)
            st = otrp_agent_add_tee(agent, tee);
        if (st != OTRP_OK) {
            fprintf(stderr, PROGRAM ": --tee %s: %s (%s)%s%s\n", o.tees[i], otrp_status_name(st),
                    otrp_strerror(st), detail[0] ? ": " : "", detail);
            otrp_agent_free(agent);
            return st == OTRP_ERR_INVALID_ARG ? EXIT_USAGE : EXIT_FAILURE;
        }
    }
    int rc = run(agent, &o, argc - optind, argv + optind);
    otrp_agent_free(agent);
    return rc;
}
