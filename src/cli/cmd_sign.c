/*
 * cmd_sign.c - "stirwire sign": signs a SHAKEN PASSporT and prints the Identity value.
 *
 * All options are checked before the key is read, so a typo never touches the key
 * file; the key is loaded once and freed as soon as the token is signed. The output is
 * exactly one line, the value to put after "Identity: " in an INVITE.
 */
#include <ctype.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define CMD "sign"

/* Latest iat we accept: 9999-12-31T23:59:59Z. */
#define IAT_MAX INT64_C(253402300799)

void cmd_sign_usage(FILE *out)
{
    fprintf(out,
            "Usage: %s sign --orig TN --dest TN[,TN...] --attest A|B|C --x5u URL --key FILE\n"
            "                [--origid UUID] [--iat SECONDS] [--compact]\n"
            "\n"
            "Signs a SHAKEN PASSporT (RFC 8225, 8588) with ES256 and prints the SIP Identity\n"
            "header value (RFC 8224) on one line.\n"
            "\n"
            "Options:\n"
            "      --orig TN       calling number (orig.tn); separators and '+' are dropped\n"
            "      --dest TN,...   called number(s) (dest.tn), comma separated\n"
            "      --attest A|B|C  attestation level\n"
            "      --x5u URL       where verifiers fetch the certificate (x5u and info)\n"
            "  -k, --key FILE      private P-256 key (PEM, PKCS#8 or SEC1)\n"
            "      --origid UUID   origination identifier (default: a fresh UUIDv4)\n"
            "      --iat SECONDS   issued-at time, Unix seconds (default: now)\n"
            "      --compact       write the compact form (header..signature)\n"
            "  -h, --help          print this help\n"
            "\n"
            "Exit status: 0 success, 1 usage error (missing or bad option), 2 bad key file,\n"
            "telephone number or other value (or an Identity longer than %d bytes),\n"
            "9 internal error.\n",
            CLI_PROG, SW_IDENTITY_MAX);
}

/* Adds each comma-separated number of list to pp; exit code. */
static int add_dests(sw_passport *pp, const char *list)
{
    char q[80];
    char *copy, *tn, *save = NULL;
    sw_err err;

    if ((copy = strdup(list)) == NULL) {
        cli_err(CMD, "out of memory");
        return CLI_EXIT_INTERNAL;
    }
    /* strtok_r would skip empty items silently; "1,,2" is more likely a mistake. */
    for (tn = copy; tn != NULL; tn = save) {
        if ((save = strchr(tn, ',')) != NULL)
            *save++ = '\0';
        if (*tn == '\0') {
            cli_err(CMD, "--dest '%s' has an empty number", cli_quote(list, q, sizeof(q)));
            free(copy);
            return CLI_EXIT_USAGE;
        }
        if ((err = sw_passport_add_dest_tn(pp, tn)) != SW_OK) {
            cli_err(CMD, "--dest '%s': %s", cli_quote(tn, q, sizeof(q)), sw_strerror(err));
            free(copy);
            return cli_exit_code(err);
        }
    }
    free(copy);
    return CLI_EXIT_OK;
}

int cmd_sign(int argc, char **argv)
{
    enum { OPT_ORIG = 256, OPT_DEST, OPT_ATTEST, OPT_X5U, OPT_ORIGID, OPT_IAT, OPT_COMPACT };
    static const struct option longopts[] = {
        {"orig", required_argument, NULL, OPT_ORIG},
        {"dest", required_argument, NULL, OPT_DEST},
        {"attest", required_argument, NULL, OPT_ATTEST},
        {"x5u", required_argument, NULL, OPT_X5U},
        {"key", required_argument, NULL, 'k'},
        {"origid", required_argument, NULL, OPT_ORIGID},
        {"iat", required_argument, NULL, OPT_IAT},
        {"compact", no_argument, NULL, OPT_COMPACT},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *orig = NULL, *dest = NULL, *attest = NULL, *x5u = NULL, *keyfile = NULL;
    const char *origid = NULL;
    int64_t iat = 0;
    unsigned flags = 0;
    int c, rc = CLI_EXIT_OK;
    char missing[128] = "";
    char q[80];
    sw_ctx *ctx = NULL;
    sw_key *key = NULL;
    sw_passport *pp = NULL;
    char *out = NULL;
    sw_err err;

    opterr = 0;
    while ((c = getopt_long(argc, argv, ":k:h", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_ORIG:
            orig = optarg;
            break;
        case OPT_DEST:
            dest = optarg;
            break;
        case OPT_ATTEST:
            attest = optarg;
            break;
        case OPT_X5U:
            x5u = optarg;
            break;
        case 'k':
            keyfile = optarg;
            break;
        case OPT_ORIGID:
            origid = optarg;
            break;
        case OPT_IAT:
            if (cli_parse_i64(CMD, "--iat", optarg, 1, IAT_MAX, &iat) != 0)
                return CLI_EXIT_USAGE;
            break;
        case OPT_COMPACT:
            flags |= SW_SIGN_COMPACT;
            break;
        case 'h':
            cmd_sign_usage(stdout);
            return CLI_EXIT_OK;
        default:
            return cli_getopt_error(CMD, c, argc, argv);
        }
    }
    if (optind < argc) {
        cli_err(CMD, "unexpected argument '%s' (see '%s sign --help')",
                cli_quote(argv[optind], q, sizeof(q)), CLI_PROG);
        return CLI_EXIT_USAGE;
    }
#define NEED(var, name)                                                                            \
    if (var == NULL)                                                                               \
        snprintf(missing + strlen(missing), sizeof(missing) - strlen(missing), "%s%s",             \
                 missing[0] ? ", " : "", name);
    NEED(orig, "--orig")
    NEED(dest, "--dest")
    NEED(attest, "--attest")
    NEED(x5u, "--x5u")
    NEED(keyfile, "--key")
#undef NEED
    if (missing[0] != '\0') {
        cli_err(CMD, "missing %s (see '%s sign --help')", missing, CLI_PROG);
        return CLI_EXIT_USAGE;
    }
    if (strlen(attest) != 1 || strchr("ABCabc", attest[0]) == NULL) {
        cli_err(CMD, "--attest '%s' is not A, B or C", cli_quote(attest, q, sizeof(q)));
        return CLI_EXIT_USAGE;
    }
    if (*x5u == '\0') {
        cli_err(CMD, "--x5u is empty");
        return CLI_EXIT_USAGE;
    }

    if ((ctx = sw_ctx_new()) == NULL || (pp = sw_passport_new()) == NULL) {
        cli_err(CMD, "out of memory");
        rc = CLI_EXIT_INTERNAL;
        goto out;
    }
    if ((err = sw_passport_set_attest(pp, (char)toupper((unsigned char)attest[0]))) != SW_OK) {
        cli_err(CMD, "--attest '%s': %s", cli_quote(attest, q, sizeof(q)), sw_strerror(err));
        rc = cli_exit_code(err);
        goto out;
    }
    if ((err = sw_passport_set_orig_tn(pp, orig)) != SW_OK) {
        cli_err(CMD, "--orig '%s': %s", cli_quote(orig, q, sizeof(q)), sw_strerror(err));
        rc = cli_exit_code(err);
        goto out;
    }
    if ((rc = add_dests(pp, dest)) != CLI_EXIT_OK)
        goto out;
    if ((err = sw_passport_set_x5u(pp, x5u)) != SW_OK) {
        cli_err(CMD, "--x5u '%s': %s", cli_quote(x5u, q, sizeof(q)), sw_strerror(err));
        rc = cli_exit_code(err);
        goto out;
    }
    if (origid != NULL && (err = sw_passport_set_origid(pp, origid)) != SW_OK) {
        cli_err(CMD, "--origid '%s': %s", cli_quote(origid, q, sizeof(q)), sw_strerror(err));
        rc = cli_exit_code(err);
        goto out;
    }
    if (iat != 0 && (err = sw_passport_set_iat(pp, iat)) != SW_OK) {
        cli_err(CMD, "--iat %lld: %s", (long long)iat, sw_strerror(err));
        rc = cli_exit_code(err);
        goto out;
    }

    if ((err = sw_key_load_file(ctx, keyfile, &key)) != SW_OK) {
        cli_key_error(CMD, ctx, err, keyfile);
        rc = cli_exit_code(err);
        goto out;
    }
    if ((err = sw_sign(ctx, key, pp, flags, &out)) != SW_OK) {
        cli_err(CMD, "cannot sign: %s: %s", sw_strerror(err), sw_errmsg(ctx));
        rc = cli_exit_code(err);
        goto out;
    }
    /*
     * Verifiers (this library too) refuse an Identity longer than SW_IDENTITY_MAX; a
     * header nobody will accept is an error in the arguments, not a result.
     */
    if (strlen(out) > SW_IDENTITY_MAX) {
        cli_err(CMD,
                "the Identity would be %zu bytes, more than the %d verifiers accept "
                "(check --x5u, --dest and --origid)",
                strlen(out), SW_IDENTITY_MAX);
        rc = CLI_EXIT_INPUT;
        goto out;
    }
    if (printf("%s\n", out) < 0 || fflush(stdout) != 0) {
        cli_err(CMD, "cannot write to standard output");
        rc = CLI_EXIT_INPUT;
    }

out:
    sw_free(out);
    sw_key_free(key);
    sw_passport_free(pp);
    sw_ctx_free(ctx);
    return rc;
}
