/*
 * otrp-tam: the reference TAM (tam/reftam.h) on the command line.
 *   otrp-tam init DIR [--tamid ID] [--spid ID] [--sdname NAME]
 *   otrp-tam provision-tee DIR TEEDIR [--name N] [--tam-uri URI]
 *   otrp-tam add-ta DIR TAID FILE
 *   otrp-tam pin DIR
 *   otrp-tam serve DIR [--listen 127.0.0.1:PORT] [--tls] [--fault SPEC] [-q]
 * serve prints the TAM URL as the first line of stdout (then the SPKI pin with --tls),
 * logs one line per session event on stderr and stops cleanly on SIGTERM or SIGINT.
 *
 * Exit status: 0 success; 1 the operation failed (one line on stderr says why);
 * 2 the command line is wrong.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "otrp/otrp.h"
#include "reftam.h"

#define PROGRAM "otrp-tam"
#define EXIT_USAGE 2

static const char USAGE[] =
    "usage: " PROGRAM " COMMAND DIR [ARGS] [options]\n"
    "\n"
    "Commands:\n"
    "  init DIR            create a TAM directory: a CA, the TAM identity (Subject CN =\n"
    "                      tamid) and the SP's TA signing identity\n"
    "      --tamid ID --spid ID --sdname NAME   (defaults tam.otrp.example,\n"
    "                      sp.otrp.example, sd.otrp.example)\n"
    "  provision-tee DIR TEEDIR   create a mock TEE directory whose identity DIR's CA\n"
    "                      issues and which trusts TAM certificates of that CA\n"
    "      --name N        the TEE name (no spaces; default mocktee)\n"
    "      --tam-uri URI   the TAM the TEE names to its agent\n"
    "  add-ta DIR TAID FILE  store FILE as the signed image of TA TAID (a changed file\n"
    "                      for a known TAID becomes an update)\n"
    "  pin DIR             print the SPKI pin of the HTTPS certificate (sha256//...)\n"
    "  serve DIR           serve the TAM until SIGTERM or SIGINT\n"
    "      --listen 127.0.0.1:PORT   port 0 (default) picks a free one; the URL is the\n"
    "                      first line on stdout\n"
    "      --tls           HTTPS with DIR/tls/cert.pem (made from DIR's CA when missing;\n"
    "                      CN 127.0.0.1); the pin is the second line on stdout\n"
    "      --fault SPEC[@N] misbehave at the Nth POST of every session (tests):\n"
    "                      delay:MS drop stall:MS 500 503 302 wrong-type oversize[:BYTES]\n"
    "                      endless garbage\n"
    "      --verify-time T check TEE certificates at Unix time T (tests)\n"
    "      -q, --quiet     no session log on stderr\n"
    "  -h, --help          this text\n"
    "\n"
    "Exit status: 0 success, 1 the operation failed, 2 bad command line.\n";

static void usage_error(const char *what)
{
    fprintf(stderr, PROGRAM ": %s\nTry '" PROGRAM " --help'.\n", what);
    exit(EXIT_USAGE);
}

static int failed(const char *what, otrp_status st, const char *detail)
{
    fprintf(stderr, PROGRAM ": %s failed: %s: %s\n", what, otrp_status_name(st),
            detail[0] != '\0' ? detail : otrp_strerror(st));
    return 1;
}

/* The value of option name at argv[*i] (moving *i past it), or NULL. */
static const char *option_value(int argc, char **argv, int *i, const char *name)
{
    if (strcmp(argv[*i], name) != 0)
        return NULL;
    if (*i + 1 >= argc) {
        char what[96];
        snprintf(what, sizeof what, "%s wants a value", name);
        usage_error(what);
    }
    *i += 1;
    return argv[*i];
}

static int cmd_init(int argc, char **argv)
{
    reftam_init_opts o;
    memset(&o, 0, sizeof o);
    const char *dir = NULL;
    for (int i = 0; i < argc; i++) {
        const char *v;
        if ((v = option_value(argc, argv, &i, "--tamid")) != NULL)
            o.tamid = v;
        else if ((v = option_value(argc, argv, &i, "--spid")) != NULL)
            o.spid = v;
        else if ((v = option_value(argc, argv, &i, "--sdname")) != NULL)
            o.sdname = v;
        else if (argv[i][0] == '-' || dir != NULL)
            usage_error("init DIR [--tamid ID] [--spid ID] [--sdname NAME]");
        else
            dir = argv[i];
    }
    if (dir == NULL)
        usage_error("init needs DIR");
    char detail[REFTAM_DETAIL_MAX] = "";
    otrp_status st = reftam_init(dir, &o, detail, sizeof detail);
    if (st != OTRP_OK)
        return failed("init", st, detail);
    printf("TAM directory %s: CA, TAM identity (tamid %s) and SP identity created\n", dir,
           o.tamid != NULL ? o.tamid : "tam.otrp.example");
    return 0;
}

static int cmd_provision(int argc, char **argv)
{
    const char *pos[2] = {NULL, NULL}, *name = NULL, *uri = NULL;
    int npos = 0;
    for (int i = 0; i < argc; i++) {
        const char *v;
        if ((v = option_value(argc, argv, &i, "--name")) != NULL)
            name = v;
        else if ((v = option_value(argc, argv, &i, "--tam-uri")) != NULL)
            uri = v;
        else if (argv[i][0] == '-' || npos == 2)
            usage_error("provision-tee DIR TEEDIR [--name N] [--tam-uri URI]");
        else
            pos[npos++] = argv[i];
    }
    if (npos != 2)
        usage_error("provision-tee needs DIR and TEEDIR");
    char detail[REFTAM_DETAIL_MAX] = "";
    otrp_status st = reftam_provision_tee(pos[0], pos[1], name, uri, detail, sizeof detail);
    if (st != OTRP_OK)
        return failed("provision-tee", st, detail);
    printf("mock TEE %s provisioned in %s (identity issued by the CA of %s)\n",
           name != NULL ? name : "mocktee", pos[1], pos[0]);
    return 0;
}

static int cmd_add_ta(int argc, char **argv)
{
    if (argc != 3)
        usage_error("add-ta DIR TAID FILE");
    FILE *f = fopen(argv[2], "rb");
    if (f == NULL) {
        fprintf(stderr, PROGRAM ": add-ta failed: cannot open %s\n", argv[2]);
        return 1;
    }
    otrp_buf bin = {0};
    bin.max = REFTAM_MAX_TA;
    unsigned char chunk[65536];
    size_t n;
    otrp_status st = OTRP_OK;
    while (st == OTRP_OK && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
        st = otrp_buf_append(&bin, chunk, n);
    int err = ferror(f);
    fclose(f);
    char detail[REFTAM_DETAIL_MAX] = "";
    unsigned version = 0;
    if (st == OTRP_OK && !err)
        st = reftam_add_ta(argv[0], argv[1], bin.data, bin.len, &version, detail, sizeof detail);
    else if (st == OTRP_OK)
        st = OTRP_ERR_IO;
    size_t len = bin.len;
    otrp_buf_free(&bin);
    if (st != OTRP_OK)
        return failed("add-ta", st, detail);
    printf("TA %s version %u (%zu bytes, signed by the SP key)\n", argv[1], version, len);
    return 0;
}

static int cmd_pin(int argc, char **argv)
{
    if (argc != 1)
        usage_error("pin DIR");
    char *cert = NULL, *key = NULL, pin[64], detail[REFTAM_DETAIL_MAX] = "";
    otrp_status st = reftam_tls_material(argv[0], &cert, &key, pin, detail, sizeof detail);
    free(cert);
    free(key);
    if (st != OTRP_OK)
        return failed("pin", st, detail);
    printf("%s\n", pin);
    return 0;
}

static void log_line(void *user, const char *line)
{
    (void)user;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    fprintf(stderr, "%02d:%02d:%02d.%03ld otrp-tam: %s\n", tm.tm_hour, tm.tm_min, tm.tm_sec,
            ts.tv_nsec / 1000000L, line);
}

static unsigned short parse_listen(const char *text)
{
    static const char host[] = "127.0.0.1:";
    char *end = NULL;
    if (strncmp(text, host, sizeof host - 1) != 0)
        usage_error("--listen wants 127.0.0.1:PORT (the reference TAM serves loopback only)");
    unsigned long port = strtoul(text + sizeof host - 1, &end, 10);
    if (end == text + sizeof host - 1 || *end != '\0' || port > 65535)
        usage_error("--listen wants a port from 0 to 65535");
    return (unsigned short)port;
}

static int cmd_serve(int argc, char **argv)
{
    const char *dir = NULL;
    int tls = 0, quiet = 0;
    reftam_server_config sc;
    memset(&sc, 0, sizeof sc);
    reftam_options to;
    memset(&to, 0, sizeof to);
    for (int i = 0; i < argc; i++) {
        const char *v;
        if ((v = option_value(argc, argv, &i, "--listen")) != NULL)
            sc.port = parse_listen(v);
        else if ((v = option_value(argc, argv, &i, "--fault")) != NULL) {
            if (reftam_fault_parse(v, &sc.fault) != 0)
                usage_error("--fault wants delay:MS, drop, stall:MS, 500, 503, 302, wrong-type, "
                            "oversize[:BYTES], endless or garbage, optionally @N");
        } else if ((v = option_value(argc, argv, &i, "--verify-time")) != NULL) {
            char *end = NULL;
            to.verify_time = strtoll(v, &end, 10);
            if (v[0] < '0' || v[0] > '9' || *end != '\0' || to.verify_time <= 0)
                usage_error("--verify-time wants Unix seconds");
        }
        else if (strcmp(argv[i], "--tls") == 0)
            tls = 1;
        else if (strcmp(argv[i], "-q") == 0 || strcmp(argv[i], "--quiet") == 0)
            quiet = 1;
        else if (argv[i][0] == '-' || dir != NULL)
            usage_error("serve DIR [--listen 127.0.0.1:PORT] [--tls] [--fault SPEC] [-q]");
        else
            dir = argv[i];
    }
    if (dir == NULL)
        usage_error("serve needs DIR");
    if (!quiet)
        to.log = log_line;
    char detail[REFTAM_DETAIL_MAX] = "", pin[64] = "";
    char *cert = NULL, *key = NULL;
    otrp_status st = OTRP_OK;
    if (tls && (st = reftam_tls_material(dir, &cert, &key, pin, detail, sizeof detail)) != OTRP_OK)
        return failed("serve", st, detail);
    reftam *tam = NULL;
    if ((st = reftam_open(dir, &to, &tam, detail, sizeof detail)) != OTRP_OK) {
        free(cert);
        free(key);
        return failed("serve", st, detail);
    }
    /* Block the stop signals before any server thread exists: they all inherit the mask
     * and the main thread takes the signal with sigwait(). */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    sc.tam = tam;
    sc.tls_cert_pem = cert;
    sc.tls_key_pem = key;
    reftam_server *srv = NULL;
    if (reftam_server_start(&sc, &srv) != 0) {
        reftam_close(tam);
        free(cert);
        free(key);
        fprintf(stderr, PROGRAM ": serve failed: cannot listen on 127.0.0.1:%u\n", sc.port);
        return 1;
    }
    printf("%s\n", reftam_server_url(srv));
    if (tls)
        printf("%s\n", pin);
    fflush(stdout);
    if (!quiet)
        fprintf(stderr, PROGRAM ": serving %s at %s%s\n", dir, reftam_server_url(srv),
                sc.fault.kind != REFTAM_FAULT_NONE ? " (with an injected fault)" : "");
    int sig = 0;
    sigwait(&stop, &sig);
    reftam_server_stop(srv);
    reftam_stats stats;
    reftam_get_stats(tam, &stats);
    reftam_close(tam);
    free(cert);
    free(key);
    if (!quiet)
        fprintf(stderr,
                PROGRAM ": stopped (%s): %u sessions, %u completed, %u ended by a TEE failure, "
                        "%u refused, %u TAM failures\n",
                sig == SIGINT ? "SIGINT" : "SIGTERM", stats.sessions, stats.completed,
                stats.tee_failures, stats.violations, stats.internal_errors);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        fputs(USAGE, argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : 0;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "init") == 0)
        return cmd_init(argc - 2, argv + 2);
    if (strcmp(cmd, "provision-tee") == 0)
        return cmd_provision(argc - 2, argv + 2);
    if (strcmp(cmd, "add-ta") == 0)
        return cmd_add_ta(argc - 2, argv + 2);
    if (strcmp(cmd, "pin") == 0)
        return cmd_pin(argc - 2, argv + 2);
    if (strcmp(cmd, "serve") == 0)
        return cmd_serve(argc - 2, argv + 2);
    usage_error("unknown command");
    return EXIT_USAGE;
}
